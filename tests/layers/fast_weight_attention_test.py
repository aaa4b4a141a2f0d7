"""FastWeightAttention against a float64 NumPy pipeline built from the layer's own weights."""

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

from fwp_keras.layers import DPFP, FastWeightAttention

CONFIGS = {
    "sum_attention_elu": dict(update_rule="sum", normalization="attention"),
    "sum_favor": dict(update_rule="sum", feature_map="favor_plus"),
    "sum_tanh_unnormalised": dict(update_rule="sum", feature_map="tanh", normalization=None),
    "sum_bidirectional": dict(update_rule="sum", causal=False, value_dim=3, output_dim=5),
    "delta_sum_dpfp": dict(update_rule="delta", normalization="sum", feature_map=lambda: DPFP(2)),
    "delta_l2": dict(update_rule="delta", normalization="l2"),
    "delta_attention": dict(update_rule="delta", normalization="attention"),
    "gated_sum_elu": dict(update_rule="gated", normalization="sum", value_dim=3),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_forward_matches_numpy_pipeline(name):
    layer = make_layer(**CONFIGS[name])
    x = random((B, T, D_MODEL), seed=1)
    y, state = layer(x, return_state=True)
    expected_y, expected_state = numpy_attention(layer, x)
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))
    assert_close(y, expected_y)
    assert_close(state, expected_state)
    assert_close(layer(x), expected_y)  # return_state=False returns the output alone


def test_cross_attention_matches_numpy_pipeline():
    layer = make_layer(causal=False, value_dim=3, output_dim=5, feature_map=lambda: DPFP(1))
    x, memory = random((B, SEGMENT, D_MODEL), seed=2), random((B, T, 9), seed=3)
    mask = random((B, T), seed=4) > -0.5
    y, state = layer(x, value=memory, padding_mask=mask, return_state=True)
    expected_y, expected_state = numpy_attention(layer, x, value=memory, padding_mask=mask)
    assert tuple(y.shape) == (B, SEGMENT, 5)
    assert_close(y, expected_y)
    assert_close(state, expected_state)


def test_symbolic_shapes():
    query, memory = keras.Input((T, D_MODEL)), keras.Input((SEGMENT, 9))
    assert tuple(make_layer()(query).shape) == (None, T, D_MODEL)
    cross = make_layer(causal=False, output_dim=5)(query, value=memory)
    assert tuple(cross.shape) == (None, T, 5)


def test_symbolic_call_returns_state():
    outputs = make_layer(update_rule="delta")(keras.Input((T, D_MODEL)), return_state=True)
    assert isinstance(outputs, (tuple, list)) and len(outputs) == 2
    assert tuple(outputs[1].shape) == (None, 2, 4, 4)
    assert outputs[1].dtype == "float32"
    _, (s, z) = make_layer(update_rule="sum")(keras.Input((T, D_MODEL)), return_state=True)
    assert tuple(s.shape) == (None, 2, 4, 4) and tuple(z.shape) == (None, 2, 4)


@pytest.mark.parametrize(
    "rule, normalization", [("sum", "attention"), ("delta", "sum"), ("gated", "sum")]
)
def test_segments_with_carried_state_equal_one_pass(rule, normalization):
    """Paper Table 4: a long sequence processed segment by segment, carrying the fast weights."""
    layer = make_layer(update_rule=rule, normalization=normalization)
    x = random((B, T, D_MODEL), seed=5)
    full, full_state = layer(x, return_state=True)
    outputs, state = [], None
    for start in range(0, T, SEGMENT):  # segment boundaries inside the chunks of 4
        y, state = layer(x[:, start : start + SEGMENT], initial_state=state, return_state=True)
        outputs.append(y)
    assert isinstance(state, tuple) == (normalization == "attention")
    assert_close(ops.concatenate(outputs, axis=1), to_np(full))
    assert_close(state, to_np(full_state))
    # The last segment equals the reference started from the reference state before it.
    carried = numpy_attention(layer, x[:, : T - SEGMENT])[1]
    last = numpy_attention(layer, x[:, T - SEGMENT :], initial_state=carried)[0]
    assert_close(outputs[-1], last)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(update_rule="delta", feature_map=lambda: DPFP(2), value_dim=3),
        dict(update_rule="gated", feature_map="favor_plus", causal=True, output_dim=4),
        dict(causal=False, use_bias=False, kernel_initializer="ones", eps=1e-4),
    ],
    ids=["delta_dpfp", "gated_favor", "bidirectional"],
)
def test_config_round_trip(kwargs):
    layer = make_layer(**kwargs)
    config = layer.get_config()
    restored = FastWeightAttention.from_config(config)
    assert restored.get_config() == config
    assert type(restored.feature_map) is type(layer.feature_map)
    serialized = keras.saving.serialize_keras_object(layer)
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_fit_step_and_keras_save_load(tmp_path):
    """One functional model stacks the three rules and FAVOR+: a fit step, then `.keras`."""
    inputs = keras.Input((T, D_MODEL))
    layers = [
        make_layer(update_rule="sum", feature_map="favor_plus"),
        make_layer(update_rule="delta", feature_map=lambda: DPFP(2)),
        make_layer(update_rule="gated"),
    ]
    h = inputs
    for layer in layers:
        h = layer(h)
    model = keras.Model(inputs, h)
    model.compile(optimizer="sgd", loss="mse")
    x, target = random((B, T, D_MODEL), seed=7), random((B, T, D_MODEL), seed=8)
    projection = to_np(layers[0].feature_map.projection)
    history = model.fit(x, target, batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # The training step redrew R, and the layer kept the draw (which the file must hold).
    assert not np.allclose(to_np(layers[0].feature_map.projection), projection)
    expected = to_np(model(x))
    h = x
    for layer in layers:
        h = numpy_attention(layer, h)[0]
    assert_close(expected, h)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(to_np(loaded(x)), expected, rtol=1e-6, atol=1e-6)


@pytest.fixture(params=[("mixed_float16", 2e-2), ("mixed_bfloat16", 5e-2)], ids=lambda p: p[0])
def mixed_policy(request):
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(request.param[0])
    yield keras.mixed_precision.dtype_policy(), request.param[1]
    keras.mixed_precision.set_dtype_policy(previous)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(update_rule="sum"),
        dict(update_rule="delta"),
        dict(update_rule="gated", feature_map="favor_plus"),
    ],
    ids=["sum", "delta", "gated_favor"],
)
def test_mixed_precision(mixed_policy, kwargs):
    policy, tol = mixed_policy
    x = random((B, T, D_MODEL), seed=9)
    layer = make_layer(**kwargs)
    reference_layer = make_layer(**kwargs, dtype="float32")
    layer.build(x.shape)
    reference_layer.build(x.shape)
    reference_layer.set_weights(layer.get_weights())
    y, state = layer(x, return_state=True)
    expected, expected_state = reference_layer(x, return_state=True)
    assert layer.compute_dtype == policy.compute_dtype
    assert ops.dtype(y) == policy.compute_dtype
    for s in state if isinstance(state, tuple) else (state,):
        assert ops.dtype(s) == "float32"
    assert_close(y, to_np(expected), tol)
    assert_close(state, to_np(expected_state), tol)


