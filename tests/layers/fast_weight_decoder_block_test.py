"""FastWeightDecoderBlock against a float64 NumPy block built from its own weights, segment by
segment and token by token against the whole sequence, and its padding and arguments."""

import math

import keras
import numpy as np
import pytest

from fwp_keras.layers.fast_weight_decoder_block import FastWeightDecoderBlock
from layer_utils import assert_close, numpy_attention, random, to_np

B, T, HIDDEN = 2, 9, 8
# JAX compiles every eager op anew per shape: there the delta rule only (every rule is held
# to the reference on JAX in tests/ops and tests/layers already).
RULES = ["sum", "delta", "gated"] if keras.backend.backend() != "jax" else ["delta"]


def make_block(update_rule="delta", **kwargs):
    keras.utils.set_random_seed(1)
    block = FastWeightDecoderBlock(num_heads=2, intermediate_dim=12, update_rule=update_rule,
                                   chunk_size=4, **kwargs)
    block.build((None, None, HIDDEN))
    return block


def numpy_layer_norm(layer, x):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + layer.epsilon) * to_np(layer.gamma) + to_np(layer.beta)


def numpy_block(block, x, padding_mask=None, initial_state=None):
    """x + attention(LN(x)); x + W2 gelu(W1 LN(x)), in float64 (exact erf GELU, Keras' default)."""
    x = np.asarray(x, np.float64)
    attended, state = numpy_attention(block.attention, numpy_layer_norm(block.attention_norm, x),
                                      padding_mask=padding_mask, initial_state=initial_state)
    x = x + attended
    inner = numpy_layer_norm(block.feedforward_norm, x) @ to_np(
        block.feedforward_intermediate.kernel) + to_np(block.feedforward_intermediate.bias)
    erf = np.vectorize(math.erf)
    inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
    out = inner @ to_np(block.feedforward_output.kernel) + to_np(block.feedforward_output.bias)
    return x + out, state


@pytest.mark.parametrize("update_rule", RULES)
def test_block_matches_float64_reference(update_rule):
    block = make_block(update_rule)
    x = random((B, T, HIDDEN))
    y, state = block(x, return_state=True)
    y_ref, state_ref = numpy_block(block, x)
    assert_close(y, y_ref)
    assert_close(state, state_ref)


@pytest.mark.parametrize("update_rule", RULES)
def test_segments_and_single_tokens_continue_the_whole_sequence(update_rule):
    block = make_block(update_rule)
    x = random((B, T, HIDDEN), seed=2)
    whole, final = block(x, return_state=True)
    first, state = block(x[:, :4], return_state=True)
    pieces = [first]
    for t in range(4, T):  # one token at a time: the one-step forms
        y, state = block(x[:, t:t + 1], initial_state=state, return_state=True)
        pieces.append(y)
    assert_close(np.concatenate([to_np(p) for p in pieces], axis=1), whole)
    assert_close(state, final)


def test_attention_normalised_state_is_s_and_z():
    block = make_block("sum")  # the sum rule's default normalisation is the attention one
    assert block.attention.normalization == "attention"
    x = random((B, T, HIDDEN), seed=3)
    y, (s, z) = block(x, return_state=True)
    y_ref, (s_ref, z_ref) = numpy_block(block, x)
    assert_close(y, y_ref)
    assert_close(s, s_ref)
    assert_close(z, z_ref)


def test_padded_positions_leave_the_memory_unchanged():
    block = make_block("delta")
    x = random((B, T, HIDDEN), seed=4)
    mask = np.ones((B, T), bool)
    mask[0, :3] = False  # left padding
    mask[1, 6:] = False  # right padding
    x_with_nan = x.copy()
    x_with_nan[~mask] = np.nan
    y, state = block(x_with_nan, padding_mask=mask, return_state=True)
    y_ref, state_ref = numpy_block(block, x, padding_mask=mask)
    assert_close(to_np(y)[mask], y_ref[mask])
    assert_close(state, state_ref)
    # The left-padded row's memory is that of its real tokens alone.
    _, alone = block(x[:1, 3:], return_state=True)
    assert_close(to_np(state)[:1], alone)


def test_config_round_trip_gives_the_same_outputs():
    block = make_block("delta", feature_map="dpfp", activation="relu", dropout=0.1)
    clone = FastWeightDecoderBlock.from_config(block.get_config())
    clone.build((None, None, HIDDEN))
    clone.set_weights(block.get_weights())
    x = random((B, T, HIDDEN), seed=5)
    np.testing.assert_array_equal(to_np(clone(x)), to_np(block(x)))
    assert clone.get_config() == block.get_config()


def test_dropout_only_in_training():
    block = make_block("sum", dropout=0.5)
    x = random((B, T, HIDDEN), seed=6)
    np.testing.assert_array_equal(to_np(block(x)), to_np(block(x, training=False)))
    assert not np.allclose(to_np(block(x, training=True)), to_np(block(x)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0, intermediate_dim=4), "num_heads"),
    (dict(num_heads=2, intermediate_dim=0), "intermediate_dim"),
    (dict(num_heads=2, intermediate_dim=4, dropout=1.0), "dropout"),
    (dict(num_heads=2, intermediate_dim=4, layer_norm_epsilon=0), "layer_norm_epsilon"),
    (dict(num_heads=2, intermediate_dim=4, update_rule="hebbian"), "update_rule"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        block = FastWeightDecoderBlock(**kwargs)
        block.build((None, None, HIDDEN))


def test_width_not_divisible_by_heads_asks_for_key_dim():
    with pytest.raises(ValueError, match="key_dim"):
        FastWeightDecoderBlock(num_heads=3, intermediate_dim=4).build((None, None, HIDDEN))


def numpy_cross_block(block, x, encoder, encoder_mask):
    """x + attention(LN(x)); x + cross_attention(LN(x), encoder); the feed-forward: float64."""
    x = np.asarray(x, np.float64)
    attended, _ = numpy_attention(block.attention, numpy_layer_norm(block.attention_norm, x))
    x = x + attended
    crossed, _ = numpy_attention(block.cross_attention,
                                 numpy_layer_norm(block.cross_attention_norm, x),
                                 value=np.asarray(encoder, np.float64), padding_mask=encoder_mask)
    x = x + crossed
    inner = numpy_layer_norm(block.feedforward_norm, x) @ to_np(
        block.feedforward_intermediate.kernel) + to_np(block.feedforward_intermediate.bias)
    inner = 0.5 * inner * (1 + np.vectorize(math.erf)(inner / math.sqrt(2)))
    return x + inner @ to_np(block.feedforward_output.kernel) + to_np(
        block.feedforward_output.bias)


def test_cross_attention_block_matches_float64_and_decodes_from_the_encoder_memory():
    block = make_block("delta", cross_attention=True)
    x, encoder = random((B, T, HIDDEN), seed=4), random((B, 6, HIDDEN), seed=5)
    encoder_mask = np.arange(6)[None] < np.array([[6], [3]])
    whole = block(x, encoder_sequence=encoder, encoder_padding_mask=encoder_mask)
    assert_close(whole, numpy_cross_block(block, x, encoder, encoder_mask))
    memory = block.cross_attention.write_memory(encoder, encoder_mask)
    y, state = block(x[:, :4], cross_memory=memory, return_state=True)
    pieces = [y]
    for t in range(4, T):
        y, state = block(x[:, t:t + 1], cross_memory=memory, initial_state=state,
                         return_state=True)
        pieces.append(y)
    assert_close(np.concatenate([to_np(p) for p in pieces], axis=1), whole)
    with pytest.raises(ValueError, match="exactly one of `encoder_sequence`"):
        block(x)
    with pytest.raises(ValueError, match="has no cross-attention"):
        make_block("delta")(x, encoder_sequence=encoder)


def test_encoder_block_is_bidirectional_and_ignores_padding():
    from fwp_keras.layers import FastWeightEncoderBlock

    keras.utils.set_random_seed(1)
    block = FastWeightEncoderBlock(num_heads=2, intermediate_dim=12)
    x = random((B, T, HIDDEN), seed=6)
    mask = np.arange(T)[None] < np.array([[T], [5]])
    y = to_np(block(x, padding_mask=mask))
    assert block.attention.normalization == "attention" and not block.attention.causal
    alone = to_np(block(x[1:, :5]))  # the padded row, unpadded: the same outputs
    assert_close(y[1:, :5], alone)
    changed = x.copy()
    changed[0, -1] = random((HIDDEN,), seed=7)  # the last position changes what the first reads
    assert not np.allclose(to_np(block(changed, padding_mask=mask))[0, 0], y[0, 0])
    with pytest.raises(ValueError, match="needs update_rule='sum'"):
        FastWeightEncoderBlock(2, 12, key_dim=4, update_rule="delta")
    with pytest.raises(ValueError, match="no cross-attention"):
        FastWeightEncoderBlock(2, 12, cross_attention=True)
    again = FastWeightEncoderBlock.from_config(block.get_config())
    assert again.get_config() == block.get_config()
