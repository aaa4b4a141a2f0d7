"""What users get wrong, each a ValueError naming the argument."""

import numpy as np
import pytest

import zoo_utils as zu
from fwp_keras import zoo

# Tokenizers and argument checks run in tf.data and Python, the same on every backend.
pytestmark = pytest.mark.skipif(zu.BACKEND != "tensorflow", reason="backend-independent")


@pytest.fixture(scope="module")
def lm():
    return zu.make_lm("delta_net")


@pytest.fixture(scope="module")
def text_lm():
    return zu.make_lm("delta_net", vocabulary_size=zu.sentence_piece_tokenizer().vocabulary_size(),
                      preprocessor=lambda: zoo.DeltaNetCausalLMPreprocessor(
                          zu.sentence_piece_tokenizer(), sequence_length=12))


def test_token_ids_outside_the_vocabulary(lm):
    batch = zu.prompts([3, 2], 8)
    batch["token_ids"][1, 1] = zu.VOCABULARY
    with pytest.raises(ValueError, match=r"token_ids.*\[0, 61\)"):
        lm.generate(batch, stop_token_ids=None)
    batch["token_ids"][1, 1] = -1
    with pytest.raises(ValueError, match="token_ids"):
        lm.generate(batch, stop_token_ids=None)
    batch["token_ids"][1, 1] = 5
    batch["token_ids"][1, 7] = -1  # a pad: it is embedded too (and then ignored)
    with pytest.raises(ValueError, match="token_ids"):
        lm.generate(batch, stop_token_ids=None)


def test_token_ids_with_a_preprocessor(text_lm):
    with pytest.raises(ValueError, match="preprocessor = None"):
        text_lm.generate(zu.prompts([3], 8))


def test_empty_batch_and_empty_prompt(lm, text_lm):
    with pytest.raises(ValueError, match="empty batch"):
        lm.generate(zu.prompts([], 8), stop_token_ids=None)
    with pytest.raises(ValueError, match="empty batch"):
        text_lm.generate([])
    with pytest.raises(ValueError, match="at least one token"):
        lm.generate(zu.prompts([3, 0], 8), stop_token_ids=None)


@pytest.mark.parametrize("inputs, match", [
    (123, "`inputs` must be a prompt string or a list of them. Received: int"),
    (b"Is this", r"Received: bytes \(decode bytes to str first\)"),
    (["Is this", b"a dagger"], "a list holding bytes, str"),
    ("", r"`inputs` holds an empty prompt \(at index 0\)"),
    (["Is this", "  "], r"empty prompt \(at index 1\)"),
])
def test_prompts_that_are_not_text(text_lm, inputs, match):
    with pytest.raises(ValueError, match=match):
        text_lm.generate(inputs)


@pytest.mark.parametrize("stop_token_ids", ["foo", [1.5], [True], 3, [zu.VOCABULARY]])
def test_bad_stop_token_ids(lm, stop_token_ids):
    with pytest.raises(ValueError, match="stop_token_ids"):
        lm.generate(zu.prompts([3], 8), stop_token_ids=stop_token_ids)


def test_float_token_ids_in_a_direct_call(lm):
    batch = zu.prompts([3], 8)
    with pytest.raises(ValueError, match="`token_ids` must be integer token ids. Received "
                                         "dtype: float32"):
        lm({"token_ids": batch["token_ids"].astype("float32"),
            "padding_mask": batch["padding_mask"]})


def test_max_length_below_the_prompt(text_lm):
    with pytest.raises(ValueError, match=r"the longest prompt, [0-9]+ tokens with the start "
                                         "token"):
        text_lm.generate("Is this a dagger which I see before me", max_length=4)
    with pytest.raises(ValueError, match="max_length"):
        text_lm.generate("Is this", max_length=0)


def test_preprocessor_vocabulary_must_match_the_backbone():
    with pytest.raises(ValueError, match="vocabulary_size"):
        zoo.DeltaNetCausalLM(zu.make_backbone("delta_net"),
                             preprocessor=zoo.DeltaNetCausalLMPreprocessor(
                                 zu.sentence_piece_tokenizer()))


def test_cache_of_the_wrong_shape(lm):
    ids = zu.prompts([5], 5)["token_ids"]
    _, _, cache = lm.call_with_cache(ids, None)
    wrong = {"positions": cache["positions"],
             "memory": (cache["memory"][0][:, :1],) + cache["memory"][1:]}
    with pytest.raises(ValueError, match="cache"):
        lm.call_with_cache(ids[:, :1], wrong)
    with pytest.raises(ValueError, match="cache"):
        lm.call_with_cache(ids[:, :1], {"memory": cache["memory"]})
    with pytest.raises(ValueError, match="cache"):
        lm.call_with_cache(ids[:, :1], {"positions": cache["positions"],
                                        "memory": cache["memory"][:1]})


def test_call_with_cache_takes_batches_of_sequences(lm):
    ids = zu.prompts([5], 5)["token_ids"]
    with pytest.raises(ValueError, match=r"`token_ids` must be \[batch, length\]"):
        lm.call_with_cache(ids[0], None)
    with pytest.raises(ValueError, match=r"`padding_mask` must be \[batch, length\]"):
        lm.call_with_cache(ids, None, padding_mask=np.ones(5, bool))
    with pytest.raises(ValueError, match=r"`token_ids` must be \[batch, length\]"):
        zu.make_lm("transformer").call_with_cache(ids[0], None, 0)


def test_families_refuse_the_choices_they_fix():
    with pytest.raises(ValueError, match="update_rule"):
        zoo.DeltaNetBackbone(**zu.SMALL, update_rule="sum")
    with pytest.raises(ValueError, match="feature_map"):
        zoo.PerformerBackbone(**zu.SMALL, feature_map="dpfp")
    with pytest.raises(ValueError, match="normalization"):
        zoo.LinearTransformerBackbone(**zu.SMALL, normalization="sum")


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_layers=0), "num_layers"),
    (dict(hidden_dim=15), "divisible"),
    (dict(vocabulary_size=0), "vocabulary_size"),
    (dict(position_encoding="rotary"), "position_encoding"),
    (dict(position_encoding="learned"), "max_sequence_length"),
    (dict(tie_word_embeddings="yes"), "tie_word_embeddings"),
])
def test_backbone_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.FastWeightBackbone(**{**zu.SMALL, **kwargs})


def test_learned_positions_bound_the_width():
    lm = zu.make_lm("delta_net", position_encoding="learned", max_sequence_length=10)
    with pytest.raises(ValueError, match="max_sequence_length"):
        lm.generate(zu.prompts([3], 12), stop_token_ids=None)


def test_without_a_preprocessor_inputs_are_token_ids(lm):
    with pytest.raises(ValueError, match="preprocessor"):
        lm.generate("Is this", stop_token_ids=None)
    with pytest.raises(ValueError, match="token_ids"):
        lm.generate({"ids": np.zeros((1, 3), "int32")}, stop_token_ids=None)
