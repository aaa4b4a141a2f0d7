"""FAVOR+ inside FastWeightAttention at the sizes models use: results that match float64 at any
key_dim and do not depend on the exp(-|x|^2 / 2) scale of the features; a projection drawn in
float32 whatever the layer's dtype; one projection per carried memory."""

import contextlib

import keras
import numpy as np
import pytest
from backend_utils import float64_enabled
from layer_utils import TOL, assert_close, numpy_attention, random, to_np

from fwp_keras.layers import FastWeightAttention, FAVORPlus

WIDTH = 512  # unit-variance inputs of a d_model = 512 model


def _eps_free(layer, x):
    """The float64 pipeline with eps = 0: the exact ratio q S / (q . z) of the paper."""
    eps = layer.eps
    layer.eps = 0.0
    try:
        return numpy_attention(layer, x)[0]
    finally:
        layer.eps = eps


CONFIGS = {
    "sum_attention": dict(update_rule="sum"),
    "delta_sum": dict(update_rule="delta"),
    "sum_sum": dict(update_rule="sum", normalization="sum"),
}
SIZES = [(name, key_dim) for name in ("sum_attention", "delta_sum") for key_dim in (16, 64, 128, 256)]
SIZES.append(("sum_sum", 256))


@pytest.mark.parametrize("name, key_dim", SIZES, ids=[f"{n}-{d}" for n, d in SIZES])
def test_matches_float64_at_model_sizes(name, key_dim):
    """The Performer's LM sizes: mean |y| was 0.015 (key_dim 64) and ~3e-8 (key_dim 128) when the
    normalisers fell below eps; float64 gives ~0.6."""
    layer = FastWeightAttention(4, key_dim, feature_map=FAVORPlus(64, seed=0), **CONFIGS[name])
    x = random((2, 40, WIDTH), seed=key_dim)
    y = layer(x)
    expected = numpy_attention(layer, x)[0]
    assert_close(y, expected)
    assert_close(y, _eps_free(layer, x), 1e-4)  # eps has no say in the result
    assert np.mean(np.abs(to_np(y))) > 0.02  # not collapsed


@pytest.mark.parametrize("scale", [3.0, 10.0])
def test_sum_normalisation_is_exact_where_the_features_underflow(scale):
    """Eq. 31 as written (input_scale=1) on large inputs: exp(-|x|^2 / 2) is ~e^-170 and below,
    beyond float32 (its smallest number is ~e^-103); phi / sum(phi) stays exact, to the
    float32 rounding of log-features of size ~|x|^2 / 2 (~300 at scale 10: ~2e-5 relative).
    The weights are seeded: the error depends on them (1e-6 to 1.2e-5 at scale 10)."""
    keras.utils.set_random_seed(0)
    layer = FastWeightAttention(2, 256, feature_map=FAVORPlus(32, seed=1, input_scale=1.0),
                                update_rule="delta")
    x = random((2, 24, 64), seed=3, scale=scale)
    layer.build(x.shape)
    keys = to_np(layer.key_dense(x))
    assert np.min(np.sum(keys.reshape(2, 24, 2, 256) ** 2, axis=-1)) / 2 > 150
    y = layer(x)
    assert np.all(np.isfinite(to_np(y)))
    assert_close(y, numpy_attention(layer, x)[0], 3e-5 if scale > 3 else TOL)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "mixed_bfloat16", "float64"])
def test_projection_is_drawn_in_float32(dtype):
    with float64_enabled() if dtype == "float64" else contextlib.nullcontext():
        _check_projection_dtype(dtype)


def _check_projection_dtype(dtype):
    layer = FastWeightAttention(2, 8, feature_map="favor_plus", dtype=dtype)
    x = random((2, 6, 16), seed=4)
    y = layer(x)
    projection = layer.feature_map.projection
    assert projection.dtype == ("float64" if dtype == "float64" else "float32")
    assert np.all(np.isfinite(to_np(y)))
    favor = FAVORPlus(4, dtype=dtype)
    favor.build((None, 8))
    assert favor.projection.dtype == ("float64" if dtype == "float64" else "float32")


def test_projection_is_fixed_while_a_state_is_carried():
    """Training segment by segment: the first segment (no state) draws R, the next ones keep it,
    so the memory is written and read with one R: the segments equal one pass with that R."""
    layer = FastWeightAttention(2, 8, feature_map=FAVORPlus(8, seed=2), update_rule="delta",
                                chunk_size=4)
    x = random((2, 12, 16), seed=5)
    layer.build(x.shape)
    before = to_np(layer.feature_map.projection)
    y1, state = layer(x[:, :5], training=True, return_state=True)
    drawn = to_np(layer.feature_map.projection)
    y2, state = layer(x[:, 5:], initial_state=state, training=True, return_state=True)
    assert not np.allclose(drawn, before)  # a new memory draws a new R ...
    np.testing.assert_array_equal(to_np(layer.feature_map.projection), drawn)  # ... then keeps it
    one_pass = layer(x, training=False)
    assert_close(np.concatenate([to_np(y1), to_np(y2)], axis=1), to_np(one_pass))
    layer(x, training=True)  # a fresh memory in training redraws
    assert not np.allclose(to_np(layer.feature_map.projection), drawn)


def test_prebuilt_projection_of_another_width_is_an_error():
    favor = FAVORPlus(16)
    favor.build((None, 32))
    with pytest.raises(ValueError, match="FAVORPlus built for inputs of dimension 32.*key_dim=8"):
        FastWeightAttention(2, 8, feature_map=favor)
    with pytest.raises(ValueError, match="dimension 32"):
        favor(np.ones((2, 8), "float32"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(orthogonal="no"), "`orthogonal` must be True or False"),
        (dict(redraw=1), "`redraw` must be True or False"),
        (dict(seed=1.5), "`seed` must be an integer"),
        (dict(input_scale=0), "`input_scale` must be a positive number"),
        (dict(input_scale=-1.0), "`input_scale`"),
        (dict(num_features=np.int32(0)), "`num_features` must be an integer >= 1"),
    ],
)
def test_bad_favor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FAVORPlus(**kwargs)


def test_numpy_integer_sizes():
    favor = FAVORPlus(num_features=np.int64(6), seed=np.int32(3))
    assert favor.num_features == 6 and type(favor.num_features) is int
    config = favor.get_config()
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(favor)).get_config() == config
