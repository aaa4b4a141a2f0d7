"""Every family's translation model: the cache against the full forward pass, ragged sources
against one by one (greedy and beam), `fit` on strings, presets and bad input (on every
backend)."""

import keras
import keras_hub
import numpy as np
import pytest

import zoo_utils as zu
from zoo_utils import SEQ2SEQ_FAMILIES, TOL, to_np

FAST_WEIGHT = [name for name in SEQ2SEQ_FAMILIES if name != "transformer"]
# JAX compiles anew for every shape: there the checks take the families whose code differs
# (FAVOR+ and the delta rule for the cache; the fast weight and softmax decoders for
# generation), and the no-cache greedy loop (a compile per length) runs on the other backends.
CACHED = FAST_WEIGHT if zu.BACKEND != "jax" else ["performer", "delta_net"]
RAGGED = (list(SEQ2SEQ_FAMILIES) if zu.BACKEND != "jax"
          else ["delta_net", "transformer"])


def full_logits(lm, batch):
    return to_np(lm(batch))


@pytest.mark.parametrize("family", CACHED)
def test_encoder_memory_and_decoder_steps_give_the_full_forward_logits(family):
    lm = zu.make_seq2seq_lm(family, num_layers=2)
    batch = zu.seq2seq_batch([9, 5], 9, 8, seed=1)
    cross_memory = lm.encoder_memory(batch["encoder_token_ids"], batch["encoder_padding_mask"])
    ids = batch["decoder_token_ids"]
    logits, _, cache = lm.call_decoder_with_cache(ids[:, :5], {"cross_memory": cross_memory})
    pieces = [to_np(logits)]
    for t in range(5, 8):
        logits, _, cache = lm.call_decoder_with_cache(ids[:, t:t + 1], cache)
        pieces.append(to_np(logits))
    assert zu.rel_err(full_logits(lm, batch), np.concatenate(pieces, axis=1)) <= TOL
    # The cache's size is fixed by the model, not by the source or target length.
    longer = zu.seq2seq_batch([30, 5], 30, 8, seed=1)
    sizes = [x.shape for x in keras.tree.flatten(lm.encoder_memory(
        longer["encoder_token_ids"], longer["encoder_padding_mask"]))]
    assert sizes == [x.shape for x in keras.tree.flatten(cross_memory)]


def test_transformer_cache_gives_the_full_forward_logits():
    lm = zu.make_seq2seq_lm("transformer", num_layers=2)
    batch = zu.seq2seq_batch([9, 5], 9, 8, seed=1)
    _, cache = lm._build_cache(batch["encoder_token_ids"], batch["encoder_padding_mask"],
                               batch["decoder_token_ids"])
    self_cache, encoder_output, encoder_mask, cross_cache = cache
    pieces = []
    for t in range(4, 8):
        logits, _, self_cache, _ = lm.call_decoder_with_cache(
            encoder_output, encoder_mask, batch["decoder_token_ids"][:, t:t + 1], self_cache, t,
            cross_cache)
        pieces.append(to_np(logits))
    assert zu.rel_err(full_logits(lm, batch)[:, 4:], np.concatenate(pieces, axis=1)) <= TOL


def greedy_by_full_forward(lm, row, steps, prompt=(2,)):
    """The no-cache reference: the whole target through the model for every new token."""
    source = {k: row[k] for k in ("encoder_token_ids", "encoder_padding_mask")}
    ids = list(prompt)
    for _ in range(steps):
        batch = {**source, "decoder_token_ids": np.array([ids], "int32"),
                 "decoder_padding_mask": np.ones((1, len(ids)), bool)}
        ids.append(zu.next_token(full_logits(lm, batch)[0, -1]))
    return ids


@pytest.mark.parametrize("sampler", ["greedy", "beam"])
@pytest.mark.parametrize("family", RAGGED)
def test_ragged_sources_translate_as_one_by_one(family, sampler):
    lm = zu.make_seq2seq_lm(family)
    if sampler == "beam":
        lm.compile(sampler=keras_hub.samplers.BeamSampler(num_beams=3))
    lengths, width = [9, 4, 1], 10
    batch = zu.seq2seq_batch(lengths, 9, width, seed=3, target_lengths=[1, 1, 1])
    out = lm.generate(batch, stop_token_ids=None)
    ids = to_np(out["decoder_token_ids"])
    assert ids.shape == (3, width) and to_np(out["decoder_padding_mask"]).all()
    for row, length in enumerate(lengths):
        alone = {k: v[row:row + 1] for k, v in batch.items()}
        alone["encoder_token_ids"] = alone["encoder_token_ids"][:, :length]  # no padding at all
        alone["encoder_padding_mask"] = alone["encoder_padding_mask"][:, :length]
        np.testing.assert_array_equal(ids[row], to_np(lm.generate(
            alone, stop_token_ids=None)["decoder_token_ids"])[0])
        if sampler == "greedy" and row == 1 and zu.BACKEND != "jax":
            expected = greedy_by_full_forward(lm, {k: v[row:row + 1] for k, v in batch.items()},
                                              width - 1)
            np.testing.assert_array_equal(ids[row], expected)


def test_decoder_prompts_of_different_lengths_continue_as_alone():
    """Every row filled to the width (keras-hub's rule), each as its prompt alone and as the
    no-cache computation continues it."""
    lm = zu.make_seq2seq_lm("delta_net")
    batch = zu.seq2seq_batch([6, 3], 6, 9, seed=4, target_lengths=[4, 2])
    out = lm.generate(batch, stop_token_ids=None)
    ids = to_np(out["decoder_token_ids"])
    assert to_np(out["decoder_padding_mask"]).all()
    for row, length in enumerate([4, 2]):
        np.testing.assert_array_equal(ids[row, :length], batch["decoder_token_ids"][row, :length])
        alone = to_np(lm.generate({k: v[row:row + 1] for k, v in batch.items()},
                                  stop_token_ids=None)["decoder_token_ids"])[0]
        np.testing.assert_array_equal(ids[row], alone)
        if zu.BACKEND != "jax":
            expected = greedy_by_full_forward(
                lm, {k: v[row:row + 1] for k, v in batch.items()}, 9 - length,
                prompt=batch["decoder_token_ids"][row, :length].tolist())
            np.testing.assert_array_equal(ids[row], expected)


def string_lm(family, encoder_sequence_length=24):
    cls, _ = SEQ2SEQ_FAMILIES[family]
    tokenizer_cls = cls.preprocessor_cls.tokenizer_cls
    return zu.make_seq2seq_lm(
        family, vocabulary_size=zu.sentence_piece_tokenizer().vocabulary_size(),
        preprocessor=lambda: cls.preprocessor_cls(
            zu.sentence_piece_tokenizer(cls=tokenizer_cls),
            encoder_sequence_length=encoder_sequence_length, decoder_sequence_length=16))


PAIRS = {"encoder_text": ["Is this a dagger which I see", "Out, damned spot!"] * 2,
         "decoder_text": ["Fair is foul", "and foul is fair"] * 2}


@pytest.mark.parametrize("family", list(SEQ2SEQ_FAMILIES) if zu.BACKEND == "tensorflow"
                         else ["delta_net"])
def test_one_fit_step_on_strings_then_translate(family):
    """(Under XLA for two of them: the memories' chunked forms on TensorFlow. On torch,
    `jit_compile` would be `torch.compile`, not XLA: 3.6 minutes of compiling here for the
    Delta Net, so torch runs eagerly, Keras's default there.)"""
    lm = string_lm(family)
    jit_compile = family in ("delta_net", "transformer") and zu.BACKEND != "torch"
    lm.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), sampler="greedy", jit_compile=jit_compile)
    before = [to_np(w).copy() for w in lm.trainable_weights]
    history = lm.fit(PAIRS, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(b, to_np(w)) for b, w in zip(before, lm.trainable_weights))
    texts = lm.generate(["Is this", "Out, damned spot!"])
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


@pytest.mark.parametrize("family", ["delta_net", "transformer"] if zu.BACKEND == "tensorflow"
                         else ["delta_net"])
def test_preset_round_trip_is_bit_identical(family, tmp_path):
    cls, _ = SEQ2SEQ_FAMILIES[family]
    lm = string_lm(family)
    lm.save_to_preset(str(tmp_path))
    loaded = keras_hub.models.Seq2SeqLM.from_preset(str(tmp_path))
    assert type(loaded) is cls and type(loaded.backbone) is cls.backbone_cls
    assert type(loaded.preprocessor.tokenizer) is cls.preprocessor_cls.tokenizer_cls
    assert loaded.backbone.get_config() == lm.backbone.get_config()
    assert (loaded.preprocessor.encoder_sequence_length,
            loaded.preprocessor.decoder_sequence_length) == (24, 16)
    batch = {k: to_np(v) for k, v in lm.preprocessor.generate_preprocess(
        PAIRS["encoder_text"][:2]).items()}
    np.testing.assert_array_equal(full_logits(loaded, batch), full_logits(lm, batch))
    loaded.compile(sampler="greedy")
    assert loaded.generate(PAIRS["encoder_text"][:2]) == lm.generate(PAIRS["encoder_text"][:2])


TRANSLATE_IN_FRESH_PROCESS = """
import sys, json, keras_hub
import fwp_keras.zoo  # registers the classes
mt = keras_hub.models.Seq2SeqLM.from_preset(sys.argv[1])
mt.compile(sampler="greedy")
print(json.dumps([type(mt).__name__, mt.generate(json.loads(sys.argv[2]))]))
"""


@pytest.mark.skipif(zu.BACKEND != "tensorflow", reason="the same loader on every backend")
def test_preset_translates_the_same_in_a_fresh_process(tmp_path):
    import json
    import subprocess
    import sys

    lm = string_lm("performer")  # FAVOR+'s fixed projection must come back with the weights
    lm.save_to_preset(str(tmp_path))
    sources = PAIRS["encoder_text"][:2]
    run = subprocess.run([sys.executable, "-c", TRANSLATE_IN_FRESH_PROCESS, str(tmp_path),
                          json.dumps(sources)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.splitlines()[-1]) == ["PerformerSeq2SeqLM", lm.generate(sources)]


def test_long_sources_are_truncated_with_a_warning():
    lm = string_lm("delta_net", encoder_sequence_length=6)
    with pytest.warns(UserWarning, match=r"1 of 2 sources are longer than .* truncated"):
        lm.generate(["Is this a dagger which I see before me", "Out"])


def test_bad_generate_inputs_name_what_is_wrong():
    lm = zu.make_seq2seq_lm("delta_net")
    batch = zu.seq2seq_batch([3], 4, 5, target_lengths=[1])
    with pytest.raises(ValueError, match="must be a dict with the keys"):
        lm.generate({"token_ids": batch["encoder_token_ids"]})
    with pytest.raises(ValueError, match=r"`encoder_token_ids` must be in \[0, 61\)"):
        lm.generate({**batch, "encoder_token_ids": batch["encoder_token_ids"] + 100})
    with pytest.raises(ValueError, match="decoder_padding_mask"):
        lm.generate({**batch, "decoder_padding_mask": np.zeros((1, 5), bool)})
    translator = string_lm("delta_net")
    with pytest.raises(ValueError, match="empty batch"):
        translator.generate([])
    with pytest.raises(ValueError, match=r"`max_length` must be >= 2.*max_length=1"):
        translator.generate(["Is this a dagger"], max_length=1)
    with pytest.raises(ValueError, match="`inputs` must be a source string"):
        translator.generate(123)
    with pytest.raises(ValueError, match=r"an empty source \(at index 0\)"):
        translator.generate("")
    with pytest.raises(ValueError, match="stop_token_ids"):
        translator.generate("Is this", stop_token_ids="foo")
    with pytest.raises(ValueError, match="fixes `update_rule='delta'`"):
        zu.make_seq2seq_lm("delta_net", update_rule="sum")


@pytest.mark.parametrize("family", list(SEQ2SEQ_FAMILIES))
def test_beam_search_with_stop_tokens_translates_a_row_as_alone(family):
    """Rows that stop at different steps: a finished beam goes on with padding at no cost,
    so the loop running on for the other rows changes nothing (keras-hub's BeamSampler kept
    scoring what finished beams drew next, and a batch changed a row's translation)."""
    lm = zu.make_seq2seq_lm(family)
    lm.compile(sampler=keras_hub.samplers.BeamSampler(num_beams=3))
    batch = zu.seq2seq_batch([7, 4, 2], 7, 12, seed=9, target_lengths=[1, 1, 1])
    free = to_np(lm.generate(batch, stop_token_ids=None)["decoder_token_ids"])
    stop = int(free[0, 3])  # row 0 stops early; the others later, or never
    out = lm.generate(batch, stop_token_ids=[stop])
    ids, mask = to_np(out["decoder_token_ids"]), to_np(out["decoder_padding_mask"])
    for row in range(3):
        alone = lm.generate({k: v[row:row + 1] for k, v in batch.items()},
                            stop_token_ids=[stop])
        kept = int(mask[row].sum())
        assert kept == int(to_np(alone["decoder_padding_mask"])[0].sum())
        np.testing.assert_array_equal(ids[row, :kept], to_np(alone["decoder_token_ids"])[0, :kept])
