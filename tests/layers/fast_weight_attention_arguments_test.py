"""FastWeightAttention's arguments: each bad one is a ValueError that names it, at construction
where it can be; NumPy scalars, variables and layer instances are what Keras users pass."""

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

@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(update_rule="hebb"), "update_rule"),
        (dict(normalization="layer"), "normalization"),
        (dict(feature_map="relu"), "feature_map"),
        (dict(num_heads=0), "num_heads"),
        (dict(key_dim=0), "key_dim"),
        (dict(value_dim=-1), "value_dim"),
        (dict(update_rule="gated", normalization="attention"), "normalization"),
        (dict(update_rule="delta", causal=False), "causal"),
        (dict(normalization="sum", feature_map="tanh"), "normalization"),
        (dict(update_rule="gated", feature_map="identity", normalization="sum"), "normalization"),
        (dict(implementation="cuda"), "implementation"),
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()) if isinstance(p, dict) else p,
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_layer(**kwargs)(random((B, T, D_MODEL)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(implementation="bogus"), "`implementation` must be one of"),
        (dict(update_rule="gated", implementation="op"), "`implementation` must be one of"),
        (dict(chunk_size=0), "`chunk_size` must be an integer >= 1"),
        (dict(chunk_size=4.0), "`chunk_size`"),
        (dict(output_dim=0), "`output_dim` must be an integer >= 1 or None"),
        (dict(causal="yes"), "`causal` must be True or False"),
        (dict(use_bias=None), "`use_bias` must be True or False"),
        (dict(eps=-1.0), "`eps` must be a finite number >= 0"),
        (dict(eps=float("nan")), "`eps`"),
        (dict(eps=None), "`eps`"),
        (dict(num_heads=2.0), "`num_heads` must be an integer >= 1"),
        (dict(feature_map=lambda: DPFP(nu=8)), "`nu` must be in 1 .. 2d - 1 = 7"),
        (dict(normalization="Sum"), "`normalization` must be one of"),
    ],
    # A function's repr holds its address: named instead, so that every worker collects one id.
    ids=lambda p: "-".join(f"{k}={getattr(v, '__name__', None) if callable(v) else v!r}"
                           for k, v in p.items()) if isinstance(p, dict) else p,
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    """No call needed: the constructor names the argument and what it expects."""
    with pytest.raises(ValueError, match=match):
        make_layer(**kwargs)


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="the ops are TensorFlow's")
def test_op_needs_tensorflow_at_construction():
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        make_layer(implementation="op")


def test_numpy_scalars_are_accepted():
    layer = make_layer(num_heads=np.int64(2), key_dim=np.int32(4), chunk_size=np.int64(3),
                       feature_map=lambda: DPFP(nu=np.int64(2)), causal=np.True_,
                       eps=np.float32(1e-6), update_rule="delta")
    assert (layer.num_heads, layer.key_dim, layer.chunk_size, layer.feature_map.nu) == (2, 4, 3, 2)
    x = random((B, T, D_MODEL))
    assert_close(layer(x), numpy_attention(layer, x)[0])
    assert FastWeightAttention.from_config(layer.get_config()).get_config() == layer.get_config()


def test_query_of_the_wrong_rank():
    layer = make_layer()
    with pytest.raises(ValueError, match=r"`query` must have rank 3"):
        layer(random((B, D_MODEL)))
    cross = make_layer(causal=False)
    with pytest.raises(ValueError, match=r"`value` must have rank 3"):
        cross(random((B, T, D_MODEL)), value=random((B, 2, T, D_MODEL)))


SIGNED = {
    "tanh": "tanh",
    "identity": "identity",
    "tanh_layer": lambda: keras.layers.Activation("tanh"),
    "identity_layer": keras.layers.Identity,
    "dense_layer": lambda: keras.layers.Dense(4),
}


@pytest.mark.parametrize("normalization", ["attention", "sum"])
@pytest.mark.parametrize("feature_map", SIGNED)
def test_signed_feature_maps_refuse_sum_and_attention_normalisation(feature_map, normalization):
    """phi / sum(phi) and q S / (q . z) divide by sums of signed terms (49% of q . z <= 0 with
    tanh, outputs up to 1e14): a clear error, whether the map is named or a layer."""
    rule = "gated" if normalization == "sum" else "sum"
    with pytest.raises(ValueError, match=f"normalization='{normalization}'.*non-negative"):
        make_layer(update_rule=rule, normalization=normalization, feature_map=SIGNED[feature_map])


@pytest.mark.parametrize("feature_map", SIGNED)
@pytest.mark.parametrize("rule", ["sum", "delta", "gated"])
def test_signed_feature_maps_default_to_no_normalisation(feature_map, rule):
    """normalization='default' with a signed map is the Schlag (2021) baseline: None. The delta
    rule warns (its keys are then unnormalised) without blaming an argument never passed."""
    if rule == "delta":
        with pytest.warns(UserWarning, match="normalization='default' is None") as record:
            layer = make_layer(update_rule=rule, feature_map=SIGNED[feature_map])
        assert "normalization='sum'` divides" not in str(record[0].message)
    else:
        layer = make_layer(update_rule=rule, feature_map=SIGNED[feature_map])
    assert layer.normalization is None
    if feature_map != "dense_layer":  # (the float64 pipeline knows the maps it names)
        x = random((B, T, D_MODEL))
        assert_close(layer(x), numpy_attention(layer, x)[0])


@pytest.mark.parametrize("feature_map", [lambda: keras.layers.Activation("relu"),
                                         lambda: keras.layers.Activation("softplus")],
                         ids=["relu", "softplus"])
def test_non_negative_layers_keep_the_paper_default(feature_map):
    layer = make_layer(update_rule="delta", feature_map=feature_map)
    assert layer.normalization == "sum"
    assert make_layer(feature_map=feature_map).normalization == "attention"


def test_cross_attention_needs_non_causal():
    layer = make_layer()
    with pytest.raises(ValueError, match="causal"):
        layer(random((B, 3, D_MODEL)), value=random((B, 5, D_MODEL)))


@pytest.mark.parametrize(
    "normalization, state",
    [
        ("sum", lambda dk: np.zeros((B, 2, dk + 1, 4), "float32")),
        ("sum", lambda dk: (np.zeros((B, 2, dk, 4), "float32"),) * 2),
        ("attention", lambda dk: np.zeros((B, 2, dk, 4), "float32")),
        ("attention", lambda dk: (np.zeros((B, 2, dk, 4), "float32"), np.zeros((B, 3, dk)))),
    ],
    ids=["wrong_dk", "tuple_for_tensor", "tensor_for_tuple", "wrong_z"],
)
def test_wrong_initial_state(normalization, state):
    layer = make_layer(update_rule="delta", normalization=normalization)
    x = random((B, T, D_MODEL))
    layer.build(x.shape)
    with pytest.raises(ValueError, match="initial_state"):
        layer(x, initial_state=state(layer.state_key_dim))


@pytest.mark.parametrize("feature_map", ["elu_plus_one", lambda: DPFP(2),
                                         lambda: keras.layers.Activation("relu")],
                         ids=["named", "dpfp_layer", "keras_layer"])
def test_delta_rule_without_normalization_warns(feature_map):
    with pytest.warns(UserWarning, match="stable only with normalised keys"):
        make_layer(update_rule="delta", normalization=None, feature_map=feature_map)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.Variable")
def test_tf_variable_initial_state():
    import tensorflow as tf

    layer = make_layer(update_rule="delta")
    x = random((B, T, D_MODEL))
    y1, state = layer(x[:, :SEGMENT], return_state=True)
    y2 = layer(x[:, SEGMENT:], initial_state=tf.Variable(state))
    assert_close(ops.concatenate([y1, y2], axis=1), to_np(layer(x)))
