"""Every family's causal LM: the cache against the full forward pass, ragged prompts against
one by one, the samplers, stop tokens, `fit` and mixed precision (on every backend)."""

import keras
import numpy as np
import pytest

import zoo_utils as zu
from zoo_utils import FAMILIES, FAST_WEIGHT_FAMILIES, TOL, to_np

# Generation compiles a function per shape on JAX: its ragged checks take the families whose
# code differs (one sum rule with attention normalisation, the delta rule, softmax).
RAGGED_FAMILIES = (list(FAMILIES) if zu.BACKEND != "jax"
                   else ["linear_transformer", "delta_net", "transformer"])


def full_logits(lm, ids, mask=None):
    mask = np.ones(ids.shape, bool) if mask is None else mask
    return to_np(lm({"token_ids": ids, "padding_mask": mask}))


@pytest.mark.parametrize("family", FAST_WEIGHT_FAMILIES)
def test_prefill_and_steps_give_the_full_forward_logits(family):
    lm = zu.make_lm(family)
    ids = zu.prompts([11, 11], 11, seed=1)["token_ids"]
    logits, _, cache = lm.call_with_cache(ids[:, :6], None)
    pieces = [to_np(logits)]
    for t in range(6, 11):
        logits, _, cache = lm.call_with_cache(ids[:, t:t + 1], cache)
        pieces.append(to_np(logits))
    assert zu.rel_err(full_logits(lm, ids), np.concatenate(pieces, axis=1)) <= TOL
    assert to_np(cache["positions"]).tolist() == [11, 11]


@pytest.mark.parametrize("family", FAST_WEIGHT_FAMILIES)
def test_left_padded_prefill_is_the_unpadded_prompt(family):
    """Pads before a prompt are identity updates: same logits and the same memory."""
    lm = zu.make_lm(family)
    ids = zu.prompts([7], 7, seed=2)["token_ids"]
    padded = np.concatenate([np.full((1, 4), 5, "int32"), ids], axis=1)
    mask = np.arange(11)[None] >= 4
    logits, _, cache = lm.call_with_cache(padded, None, padding_mask=mask)
    logits_alone, _, cache_alone = lm.call_with_cache(ids, None)
    assert zu.rel_err(to_np(logits_alone), to_np(logits)[:, 4:]) <= TOL
    for a, b in zip(keras.tree.flatten(cache_alone["memory"]), keras.tree.flatten(cache["memory"])):
        assert zu.rel_err(to_np(a), to_np(b)) <= TOL
    assert to_np(cache["positions"]).tolist() == [7]


def test_transformer_cache_gives_the_full_forward_logits():
    lm = zu.make_lm("transformer")
    ids = zu.prompts([11, 11], 11, seed=1)["token_ids"]
    _, cache = lm._build_cache(ids)
    pieces = []
    for t in range(6, 11):
        logits, _, cache = lm.call_with_cache(ids[:, t:t + 1], cache, t)
        pieces.append(to_np(logits))
    assert zu.rel_err(full_logits(lm, ids)[:, 6:], np.concatenate(pieces, axis=1)) <= TOL


def greedy_by_full_forward(lm, ids, steps):
    """The no-cache reference: the whole sequence through the model for every new token."""
    ids = list(ids)
    for _ in range(steps):
        logits = full_logits(lm, np.array([ids], "int32"))
        ids.append(zu.next_token(logits[0, -1]))
    return ids


@pytest.mark.parametrize("family", RAGGED_FAMILIES)
def test_ragged_prompts_generate_what_each_prompt_generates_alone(family):
    lm = zu.make_lm(family)
    width, lengths = 14, [3, 7, 1]
    batch = zu.prompts(lengths, width, seed=3)
    out = lm.generate(batch, stop_token_ids=None)
    ids, mask = to_np(out["token_ids"]), to_np(out["padding_mask"])
    assert mask.all()  # every row filled to the width, as keras-hub's models fill it
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(ids[row, :length], batch["token_ids"][row, :length])
        alone = lm.generate({k: v[row:row + 1] for k, v in batch.items()}, stop_token_ids=None)
        np.testing.assert_array_equal(ids[row], to_np(alone["token_ids"])[0])
        # Every row against the no-cache computation, to the full width.
        expected = greedy_by_full_forward(lm, batch["token_ids"][row, :length], width - length)
        np.testing.assert_array_equal(ids[row], expected)


@pytest.mark.skipif(zu.BACKEND == "jax", reason="four more compiled generate functions")
@pytest.mark.parametrize("sampler", ["top_k_1", "top_p_tiny", "beam_1", "beam_3", "random"])
def test_samplers(sampler):
    import keras_hub

    lm = zu.make_lm("delta_net")
    batch = zu.prompts([3, 6], 12, seed=5)
    greedy = to_np(lm.generate(batch, stop_token_ids=None)["token_ids"])
    samplers = {
        "top_k_1": keras_hub.samplers.TopKSampler(k=1),
        "top_p_tiny": keras_hub.samplers.TopPSampler(p=1e-6),
        "beam_1": keras_hub.samplers.BeamSampler(num_beams=1),
        "beam_3": keras_hub.samplers.BeamSampler(num_beams=3),
        "random": keras_hub.samplers.RandomSampler(seed=0),
    }
    lm.compile(sampler=samplers[sampler])
    out = lm.generate(batch, stop_token_ids=None)
    ids, mask = to_np(out["token_ids"]), to_np(out["padding_mask"])
    assert ids.shape == greedy.shape and mask.sum(axis=1).tolist() == [12, 12]
    assert ((ids >= 0) & (ids < zu.VOCABULARY)).all()
    np.testing.assert_array_equal(ids[:, :3], batch["token_ids"][:, :3])
    if sampler in ("top_k_1", "top_p_tiny", "beam_1"):  # each is greedy decoding
        np.testing.assert_array_equal(ids, greedy)
    if sampler == "beam_3":  # beams score sequences: the result is no less likely than greedy
        assert sequence_log_prob(lm, ids[1], 6) >= sequence_log_prob(lm, greedy[1], 6) - 1e-4


def sequence_log_prob(lm, ids, prompt_length):
    logits = full_logits(lm, ids[None].astype("int32"))[0]
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1,
                                                                                    keepdims=True)) - logits.max(-1, keepdims=True)
    return sum(log_probs[t - 1, ids[t]] for t in range(prompt_length, len(ids)))


def test_padding_and_unk_are_never_sampled_unless_asked():
    lm = zu.make_lm("delta_net")
    batch = zu.prompts([3, 5], 10, seed=7)
    # Make <pad> and <unk> the likeliest tokens everywhere: a bias on their output rows.
    embeddings = lm.backbone.embeddings.token_embedding.embeddings
    table = to_np(embeddings)
    table[zu.SUPPRESSED] += 5.0 * np.sign(table[zu.SUPPRESSED] + 1e-9)
    embeddings.assign(table)
    allowed = to_np(lm.generate(batch, stop_token_ids=None, suppressed_token_ids=())[
        "token_ids"])
    out = lm.generate(batch, stop_token_ids=None)
    ids, mask = to_np(out["token_ids"]), to_np(out["padding_mask"]).astype(bool)
    assert np.isin(allowed[:, 5:], zu.SUPPRESSED).any()  # the bias works
    assert mask.all()
    generated = [ids[row, length:] for row, length in enumerate([3, 5])]
    assert not np.isin(np.concatenate(generated), zu.SUPPRESSED).any()
    forbidden = int(ids[0, 5])
    again = to_np(lm.generate(batch, stop_token_ids=None, suppressed_token_ids=[forbidden])[
        "token_ids"])
    assert forbidden not in again[:, 5:]


@pytest.mark.parametrize("value, match", [
    ("none", "`suppressed_token_ids` must be one of"), ([1.5], "integer token ids"),
    ([zu.VOCABULARY], "suppressed_token_ids")])
def test_bad_suppressed_token_ids_are_clear_errors(value, match):
    lm = zu.make_lm("delta_net")
    with pytest.raises(ValueError, match=match):
        lm.generate(zu.prompts([2], 6, seed=8), suppressed_token_ids=value)


def test_stop_tokens_end_each_row_as_in_keras_hub():
    lm = zu.make_lm("linear_transformer")
    batch = zu.prompts([2, 4], 12, seed=6)
    free = to_np(lm.generate(batch, stop_token_ids=None)["token_ids"])
    stop = int(free[0, 4])  # a token row 0 generates at its third step
    out = lm.generate(batch, stop_token_ids=[stop])
    ids, mask = to_np(out["token_ids"]), to_np(out["padding_mask"])
    for row, length in enumerate([2, 4]):
        generated = list(free[row, length:])
        end = generated.index(stop) + 1 if stop in generated else len(generated)
        assert mask[row].sum() == length + end
        np.testing.assert_array_equal(ids[row, :length + end], free[row, :length + end])


@pytest.mark.parametrize("family", list(FAMILIES) if zu.BACKEND == "tensorflow"
                         else ["delta_net"])
def test_one_fit_step_on_strings(family):
    cls, _ = FAMILIES[family]
    lm = zu.make_lm(family, vocabulary_size=zu.sentence_piece_tokenizer().vocabulary_size(),
                    preprocessor=lambda: cls.preprocessor_cls(zu.sentence_piece_tokenizer(),
                                                              sequence_length=16))
    lm.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), weighted_metrics=["accuracy"])
    before = [to_np(w).copy() for w in lm.trainable_weights]
    history = lm.fit(["Is this a dagger which I see before me", "Out, damned spot!"] * 2,
                     batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(b, to_np(w)) for b, w in zip(before, lm.trainable_weights))
    text = lm.generate("Is this", max_length=12)
    assert isinstance(text, str) and text.startswith("Is this")


@pytest.mark.parametrize("family", ["delta_net", "linear_transformer", "transformer"]
                         if zu.BACKEND == "tensorflow" else ["delta_net"])
def test_mixed_precision(family):
    reference = zu.make_lm(family)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = zu.make_lm(family)
    finally:
        keras.config.set_dtype_policy(policy)
    mixed.set_weights(reference.get_weights())
    ids = zu.prompts([10], 10, seed=7)["token_ids"]
    logits = full_logits(mixed, ids)
    assert np.isfinite(logits).all()
    assert zu.rel_err(full_logits(reference, ids), logits) < 0.05
    if family != "transformer":
        _, _, cache = mixed.call_with_cache(ids, None)
        assert all(keras.backend.standardize_dtype(s.dtype) == "float32"
                   for s in keras.tree.flatten(cache["memory"]))
    out = mixed.generate(zu.prompts([3], 8), stop_token_ids=None)
    assert to_np(out["padding_mask"]).all()


def count_memory_calls(monkeypatch, lm, batch):
    """Calls of the delta rule's sequence and one-step forms while `generate` runs (traced once
    on TensorFlow and JAX, executed eagerly on torch)."""
    import fwp_keras.ops

    calls = {"sequence": 0, "step": 0}

    def counted(name, kind):
        original = getattr(fwp_keras.ops, name)

        def wrapper(*args, **kwargs):
            calls[kind] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(fwp_keras.ops, name, wrapper)

    counted("delta_rule", "sequence")
    counted("delta_rule_step", "step")
    lm.generate_function = None
    lm.generate(batch, stop_token_ids=None)
    monkeypatch.undo()
    return calls


def test_prefill_is_one_pass_whatever_the_prompt_length(monkeypatch):
    lm = zu.make_lm("delta_net")
    short = count_memory_calls(monkeypatch, lm, zu.prompts([4, 2], 4 + 5))
    long = count_memory_calls(monkeypatch, lm, zu.prompts([30, 2], 30 + 5))
    layers = lm.backbone.num_layers
    assert short["sequence"] == long["sequence"] == layers  # one chunked call per layer
    if zu.BACKEND == "torch":  # eager: one step per generated column, from the shortest prompt
        assert (short["step"], long["step"]) == ((9 - 2) * layers, (35 - 2) * layers)
    else:  # traced: the decoding loop's body once, whatever the lengths
        assert short["step"] == long["step"]
    if zu.BACKEND == "tensorflow":
        from fwp_keras.ops import _common

        if _common.custom_ops_usable():  # the prefill is the custom op, once per layer
            batch = zu.prompts([30, 2], 35)
            graph = lm.generate_function.get_concrete_function(batch, stop_token_ids=None).graph
            ops = [op.type for op in graph.get_operations()]
            assert ops.count("FwpDeltaRule") == layers


@pytest.mark.skipif(zu.BACKEND != "tensorflow", reason="tf.function tracing")
def test_generation_is_traced_once_for_every_shape():
    """keras-hub's tf.function traced each batch size and width again (TensorFlow warned of
    retracing from the fifth); the zoo's generalises after the second shape."""
    lm = zu.make_lm("dpfp")
    first = to_np(lm.generate(zu.prompts([2, 3], 8, seed=1), stop_token_ids=None)["token_ids"])
    for batch, width in ((1, 6), (3, 9), (4, 11), (5, 7), (2, 12), (6, 10)):
        lm.generate(zu.prompts([2] * batch, width, seed=2), stop_token_ids=None)
    assert lm.generate_function.experimental_get_tracing_count() <= 2
    again = to_np(lm.generate(zu.prompts([2, 3], 8, seed=1), stop_token_ids=None)["token_ids"])
    np.testing.assert_array_equal(again, first)
