"""FastWeightAttention's padding: an explicit `padding_mask` or the Keras mask of the memory
sequence (`query` in self-attention, `value` in cross-attention), applied by selection, so that
padded positions neither write to nor change the memory whatever they hold."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_utils import (
    B,
    D_MODEL,
    SEGMENT,
    T,
    assert_close,
    make_layer,
    numpy_attention,
    random,
    to_np,
)

from fwp_keras.layers import DPFP

MASK_RULES = {
    "sum_causal": dict(update_rule="sum"),
    "sum_bidirectional": dict(update_rule="sum", causal=False),
    "delta": dict(update_rule="delta"),
    "delta_attention": dict(update_rule="delta", normalization="attention"),
    "gated": dict(update_rule="gated"),
}


@pytest.mark.parametrize("name", MASK_RULES)
def test_padding_mask_equals_removing_positions(name):
    layer = make_layer(**MASK_RULES[name])
    x = random((B, T, D_MODEL), seed=6)
    mask = np.ones((B, T), bool)
    mask[0, [0, 3, 4, 6, 7]] = False  # a leading pad and gaps
    mask[1, [2, 3, 7, 8, 9]] = False  # a gap and trailing pads; SEGMENT positions kept per row
    y, state = layer(x, padding_mask=mask, return_state=True)
    y, state = to_np(y), to_np(state)
    for b in range(B):
        kept = x[b : b + 1, mask[b]]
        y_kept, state_kept = layer(kept, return_state=True)
        assert_close(y[b : b + 1, mask[b]], y_kept)
        row = [s[b : b + 1] for s in (state if isinstance(state, tuple) else (state,))]
        assert_close(tuple(row) if isinstance(state, tuple) else row[0], state_kept)
    assert_close(y, numpy_attention(layer, x, padding_mask=mask)[0])


def test_embedding_mask_is_the_padding_mask():
    tokens = np.array([[3, 1, 4, 1, 5, 9, 2, 6, 0, 0], [0, 2, 6, 0, 5, 3, 5, 8, 9, 7]], "int32")
    layer = make_layer(update_rule="delta")
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(10, D_MODEL, mask_zero=True)
    model = keras.Model(inputs, layer(embedding(inputs)))
    y = to_np(model(tokens))
    h = embedding(tokens)
    assert_close(y, layer(h, padding_mask=tokens != 0))
    assert_close(layer(h), layer(h, padding_mask=tokens != 0))  # eager: the mask rides on h
    unmasked = to_np(layer(ops.convert_to_tensor(to_np(h).astype("float32"))))
    assert not np.allclose(y, unmasked, atol=1e-4)


def _tokens():
    return np.array([[3, 1, 4, 1, 5, 9, 2, 6, 0, 0], [0, 2, 6, 0, 5, 3, 5, 8, 9, 7]], "int32")


def test_value_mask_is_the_memory_padding_mask_in_cross_attention():
    """keras.layers.MultiHeadAttention honours the value's mask; so does this layer."""
    tokens = _tokens()
    layer = make_layer(causal=False, feature_map=lambda: DPFP(1), output_dim=5)
    embedding = keras.layers.Embedding(10, 9, mask_zero=True)
    query = random((B, SEGMENT, D_MODEL), seed=11)
    memory = embedding(tokens)
    y = to_np(layer(query, value=memory))
    assert_close(y, layer(query, value=memory, padding_mask=tokens != 0))
    for b in range(B):  # == the memory with its pads removed
        kept = ops.convert_to_tensor(to_np(memory)[b : b + 1, tokens[b] != 0].astype("float32"))
        assert_close(y[b : b + 1], layer(query[b : b + 1], value=kept))
    unmasked = ops.convert_to_tensor(to_np(memory).astype("float32"))
    assert not np.allclose(y, to_np(layer(query, value=unmasked)), atol=1e-4)
    # In a functional model, the mask travels with the symbolic value.
    source, target = keras.Input((None,), dtype="int32"), keras.Input((SEGMENT, D_MODEL))
    model = keras.Model([source, target], layer(target, value=embedding(source)))
    assert_close(model([tokens, query]), y)


def test_query_mask_with_initial_state():
    """With a second tensor argument (the state) Keras passes the mask as `query_mask`."""
    tokens = _tokens()
    layer = make_layer(update_rule="delta")
    h = keras.layers.Embedding(10, D_MODEL, mask_zero=True)(tokens)
    layer.build(h.shape)
    state = ops.zeros((B, 2, layer.state_key_dim, 4))
    y = layer(h, initial_state=state)
    assert_close(y, layer(h, padding_mask=tokens != 0))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("name", MASK_RULES)
def test_non_finite_padding_does_not_reach_valid_positions(name, bad):
    """Padded positions holding NaN or inf (garbage embeddings, say) change nothing."""
    layer = make_layer(**MASK_RULES[name])
    x = random((B, T, D_MODEL), seed=12)
    mask = np.ones((B, T), bool)
    mask[0, [1, 2, 8]] = False
    mask[1, [0, 5, 9]] = False
    clean = to_np(layer(x, padding_mask=mask))
    dirty = x.copy()
    dirty[~mask] = bad
    y = to_np(layer(dirty, padding_mask=mask))
    assert np.all(np.isfinite(y[mask]))  # (the outputs of padded positions are their own)
    assert_close(y[mask], clean[mask])


def test_padding_mask_of_the_wrong_shape():
    layer = make_layer()
    x = random((B, T, D_MODEL))
    with pytest.raises(ValueError, match=r"`padding_mask` must have shape \[batch, memory length\]"):
        layer(x, padding_mask=np.ones((B, T - 1), bool))
    with pytest.raises(ValueError, match="`padding_mask`"):
        layer(x, padding_mask=np.ones((B, T, 1), bool))
    cross = make_layer(causal=False)
    with pytest.raises(ValueError, match=r"\(2, 7\)"):
        cross(x, value=random((B, 7, D_MODEL)), padding_mask=np.ones((B, T), bool))
