"""FwpLinearAttention and FwpDeltaRule (and their gradient ops) against the float64 reference.

DESIGN Section 8: float32 forward <= 1e-5 and gradients <= 1e-4 relative error, float64 gradient
checks with `tf.test.compute_gradient`, awkward shapes (T in {1, 63, 100, 1000}, Dk != Dv,
D = 60, B*H = 1, with and without initial state); the op equals the keras.ops chunked form;
tf.function with unknown shapes, half precision, T = 0 and T = 65536.
"""

import numpy as np
import pytest
import tensorflow as tf

import fwp_keras.ops as fwp
from backend_utils import assert_close
from op_utils import (RULES, call_op, make_inputs, op_value_and_grads, random_cotangents,
                      reference_grads, reference_outputs)

FWD_TOL, GRAD_TOL = 1e-5, 1e-4

# (B, T, H, Dk, Dv, initial_state)
SHAPES = {
    "T1000-BH1-D60": (1, 1000, 1, 60, 60, True),
    "T63-Dk60-Dv36": (2, 63, 3, 60, 36, False),
    "T100-Dk60-Dv36": (2, 100, 2, 60, 36, True),
    "T1-Dk5-Dv7": (1, 1, 2, 5, 7, True),
}


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("rule", RULES)
def test_forward_and_gradients_match_reference(rule, normalize, shape):
    b, t, h, dk, dv, initial_state = SHAPES[shape]
    rng = np.random.default_rng(0)
    x = make_inputs(rng, rule, b, t, h, dk, dv, initial_state)
    cotangents = random_cotangents(rng, x)
    outputs, grads = op_value_and_grads(rule, x, cotangents, normalize)
    assert_close(outputs, list(reference_outputs(rule, x, normalize)), FWD_TOL, "outputs")
    assert_close(grads, reference_grads(rule, x, cotangents, normalize), GRAD_TOL, "grads")


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 200])
@pytest.mark.parametrize("rule", RULES)
def test_every_chunk_size_computes_the_same_function(rule, chunk_size):
    rng = np.random.default_rng(1)
    x = make_inputs(rng, rule, 2, 100, 2, 12, 9)
    cotangents = random_cotangents(rng, x)
    outputs, grads = op_value_and_grads(rule, x, cotangents, True, dtype=tf.float64,
                                        chunk_size=chunk_size)
    assert_close(outputs, list(reference_outputs(rule, x, True)), 1e-12, "outputs")
    assert_close(grads, reference_grads(rule, x, cotangents, True), 1e-11, "grads")


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("rule", RULES)
def test_float64_gradients_pass_tf_gradient_check(rule, normalize):
    """Theoretical (registered gradient op) vs numerical Jacobians of every output."""
    rng = np.random.default_rng(2)
    x = make_inputs(rng, rule, 1, 9, 2, 5, 3)
    names = list(x)

    def outputs(*args):
        o, s, z = call_op(rule, dict(zip(names, args)), normalize, dtype=tf.float64,
                          chunk_size=4)
        return tf.concat([tf.reshape(o, [-1]), tf.reshape(s, [-1]), tf.reshape(z, [-1])], 0)

    theoretical, numerical = tf.test.compute_gradient(
        outputs, [tf.constant(x[n]) for n in names], delta=1e-6
    )
    for name, a, n in zip(names, theoretical, numerical):
        scale = max(np.abs(n).max(), 1.0)
        assert np.abs(a - n).max() <= 1e-6 * scale, name


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("rule", RULES)
def test_op_equals_keras_chunked_form(rule, normalize):
    rng = np.random.default_rng(3)
    x = make_inputs(rng, rule, 2, 150, 3, 20, 12)
    args = [tf.constant(x[n], tf.float32) for n in ("q", "k", "v", "beta") if n in x]
    state = tuple(tf.constant(x[n], tf.float32) for n in ("s0", "z0"))
    fn = fwp.linear_attention if rule == "sum" else fwp.delta_rule
    results = {}
    for implementation in ("op", "chunked"):
        with tf.GradientTape() as tape:
            tape.watch(args)
            o, final = fn(*args, normalize=normalize, implementation=implementation,
                          initial_state=state if normalize else state[0], return_state=True)
            loss = tf.reduce_sum(o * o) + tf.reduce_sum(tf.nest.flatten(final)[0])
        results[implementation] = [o, *tf.nest.flatten(final), *tape.gradient(loss, args)]
    assert_close([r.numpy() for r in results["op"]], [r.numpy() for r in results["chunked"]],
                 GRAD_TOL)


@pytest.mark.parametrize("dtype,tol", [(tf.float16, 2e-3), (tf.bfloat16, 2e-2)])
@pytest.mark.parametrize("rule", RULES)
def test_half_precision_inputs_accumulate_in_float32(rule, dtype, tol):
    rng = np.random.default_rng(4)
    x = make_inputs(rng, rule, 2, 70, 2, 16, 8)
    # The reference sees the inputs rounded to `dtype`, so only the op's arithmetic differs.
    rounded = {n: tf.cast(tf.cast(a, dtype), tf.float64).numpy() if n not in ("s0", "z0") else a
               for n, a in x.items()}
    o, s, z = call_op(rule, x, False, dtype=dtype)
    assert o.dtype == dtype and s.dtype == tf.float32 and z.dtype == tf.float32
    expected = reference_outputs(rule, rounded, False)
    assert_close([tf.cast(o, tf.float32).numpy(), s.numpy()], list(expected[:2]), tol)


@pytest.mark.parametrize("rule", RULES)
def test_tf_function_with_unknown_shapes(rule):
    rng = np.random.default_rng(5)
    x = make_inputs(rng, rule, 2, 33, 3, 6, 5)
    names = list(x)
    signature = [tf.TensorSpec([None] * x[n].ndim, tf.float32) for n in names]

    @tf.function(input_signature=signature)
    def run(*args):
        return call_op(rule, dict(zip(names, args)), True)

    graph_outputs = run(*(tf.constant(x[n], tf.float32) for n in names))
    assert_close([t.numpy() for t in graph_outputs], list(reference_outputs(rule, x, True)),
                 FWD_TOL)


@pytest.mark.parametrize("rule", RULES)
def test_empty_sequence_passes_the_state_through(rule):
    rng = np.random.default_rng(6)
    x = make_inputs(rng, rule, 2, 0, 3, 4, 5)
    cotangents = random_cotangents(rng, x)
    (o, s, z), grads = op_value_and_grads(rule, x, cotangents, True)
    assert o.shape == (2, 0, 3, 5) and grads["q"].shape == (2, 0, 3, 4)
    np.testing.assert_allclose(s, x["s0"], rtol=1e-6)
    np.testing.assert_allclose(z, x["z0"], rtol=1e-6)
    np.testing.assert_allclose(grads["s0"], cotangents[1], rtol=1e-6)
    np.testing.assert_allclose(grads["z0"], cotangents[2], rtol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_sequence_of_65536_steps(rule):
    """Forward against the reference; gradients against the keras.ops chunked form."""
    rng = np.random.default_rng(7)
    x = make_inputs(rng, rule, 1, 65536, 1, 16, 16)
    o, s, _ = call_op(rule, x, False)
    expected_o, expected_s, _ = reference_outputs(rule, x, False)
    assert_close([o.numpy(), s.numpy()], [expected_o, expected_s], FWD_TOL)

    args = [tf.constant(x[n], tf.float32) for n in ("q", "k", "v", "beta") if n in x]
    fn = fwp.linear_attention if rule == "sum" else fwp.delta_rule
    grads = {}
    for implementation in ("op", "chunked"):
        with tf.GradientTape() as tape:
            tape.watch(args)
            loss = tf.reduce_sum(fn(*args, implementation=implementation) ** 2)
        grads[implementation] = [g.numpy() for g in tape.gradient(loss, args)]
    assert_close(grads["op"], grads["chunked"], GRAD_TOL)
