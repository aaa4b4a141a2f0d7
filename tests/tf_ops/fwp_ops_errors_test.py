"""Every malformed call of the Fwp ops raises InvalidArgument naming the argument: never a crash,
an abort or a wrong shape. Eager calls and graphs whose shapes are unknown until run time."""

import numpy as np
import pytest
import tensorflow as tf

from fwp_keras.tf_ops import load_custom_ops

B, T, H, DK, DV = 2, 5, 3, 4, 6


def inputs(**changes):
    """Well-formed delta-rule inputs, with some replaced."""
    x = {
        "q": tf.ones((B, T, H, DK)), "k": tf.ones((B, T, H, DK)), "v": tf.ones((B, T, H, DV)),
        "beta": tf.ones((B, T, H)), "initial_state": tf.zeros((B, H, DK, DV)),
        "initial_normalizer": tf.zeros((B, H, DK)),
    }
    x.update(changes)
    return x


def sum_rule(x, **attrs):
    x = dict(x)
    x.pop("beta")
    return load_custom_ops().fwp_linear_attention(**x, **attrs)


def delta_rule(x, **attrs):
    return load_custom_ops().fwp_delta_rule(**x, **attrs)


def delta_rule_grad(x, **attrs):
    grads = {"d_output": tf.ones((B, T, H, DV)), "d_final_state": tf.zeros((B, H, DK, DV)),
             "d_final_normalizer": tf.zeros((B, H, DK))}
    grads.update(attrs.pop("grads", {}))
    return load_custom_ops().fwp_delta_rule_grad(**x, **grads, **attrs)


CASES = {
    "q rank 3": (inputs(q=tf.ones((B, T, H))), "`q` must have rank 4"),
    "k shape": (inputs(k=tf.ones((B, T, H, DK + 1))), "`k` must have shape"),
    "v batch": (inputs(v=tf.ones((B + 1, T, H, DV))), "`v` must have shape"),
    "v length": (inputs(v=tf.ones((B, T + 1, H, DV))), "`v` must have shape"),
    "beta shape": (inputs(beta=tf.ones((B, T, H, 1))), "`beta` must have shape"),
    "state Dk": (inputs(initial_state=tf.zeros((B, H, DK + 1, DV))), "`initial_state` must"),
    "state Dv": (inputs(initial_state=tf.zeros((B, H, DK, DV + 1))), "`initial_state` must"),
    "normalizer": (inputs(initial_normalizer=tf.zeros((B, H))), "`initial_normalizer` must"),
    "state dtype": (inputs(initial_state=tf.zeros((B, H, DK, DV), tf.float64),
                           initial_normalizer=tf.zeros((B, H, DK), tf.float64)),
                    # the gradient op meets the float32 cotangents first: TensorFlow's own check
                    "must be float64 when q, k, v are float64 and float32 otherwise"
                    "|expected to be a double tensor"),
}


@pytest.mark.parametrize("op", [sum_rule, delta_rule, delta_rule_grad],
                         ids=["sum", "delta", "delta_grad"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_malformed_inputs_raise_invalid_argument(op, case):
    x, message = CASES[case]
    if op is sum_rule and case == "beta shape":
        pytest.skip("the sum rule has no beta")
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        op(x)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_malformed_inputs_raise_at_run_time_in_graphs_of_unknown_shape(case):
    x, message = CASES[case]
    names = list(x)
    signature = [tf.TensorSpec(None, x[n].dtype) for n in names]  # unknown rank
    run = tf.function(lambda *args: delta_rule(dict(zip(names, args))),
                      input_signature=signature)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run(*(x[n] for n in names))


def test_known_bad_shapes_fail_when_the_graph_is_built():
    x = inputs(v=tf.ones((B, T + 1, H, DV)))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="Dimension"):
        tf.function(lambda: delta_rule(x)).get_concrete_function()


@pytest.mark.parametrize("attrs,message", [
    ({"eps": -1.0}, "`eps` must be a finite number >= 0"),
    ({"eps": float("nan")}, "`eps` must be a finite number >= 0"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_attributes_raise_invalid_argument(attrs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        delta_rule(inputs(), **attrs)


def test_integer_inputs_raise_invalid_argument():
    x = inputs(q=tf.ones((B, T, H, DK), tf.int32))
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError)):
        delta_rule(x)


@pytest.mark.parametrize("name,shape", [
    ("d_output", (B, T, H, DV + 1)), ("d_final_state", (B, H, DK, DV, 1)),
    ("d_final_normalizer", (B, H, DK + 2)),
])
def test_malformed_cotangents_raise_invalid_argument(name, shape):
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"`{name}` must have shape"):
        delta_rule_grad(inputs(), grads={name: tf.zeros(shape)})


def test_non_finite_inputs_propagate_without_crashing():
    x = inputs(v=tf.fill((B, T, H, DV), np.nan))
    o, s, _ = delta_rule(x)
    assert o.shape == (B, T, H, DV) and np.isnan(o.numpy()).all()
