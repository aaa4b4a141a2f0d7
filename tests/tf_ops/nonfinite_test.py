"""Non-finite inputs on the custom ops: the CPU kernels keep a NaN / inf at step t out of the
outputs before t themselves (tensor_head_io.h), with the forward pass and the gradients of the
keras.ops chunked form's guard (`run_causally`), which also guards the op where a GPU is visible."""

import numpy as np
import pytest
import tensorflow as tf

import backend_utils as bu
from fwp_keras.tf_ops import memory_ops

RULES = {"sum": bu.LINEAR, "delta": bu.DELTA}


def _outputs_and_grads(rule, inputs, normalize, implementation, cotangent):
    tensors = {n: tf.nest.map_structure(tf.constant, x) for n, x in inputs.items()}
    leaves = tf.nest.flatten(tensors)
    with tf.GradientTape() as tape:
        tape.watch(leaves)
        o, state = rule(tensors, normalize, return_state=True, implementation=implementation)
        finite = tf.math.is_finite(o)
        # A loss over the finite outputs, as a user masking the poisoned steps would write it.
        loss = tf.reduce_sum(tf.where(finite, o * cotangent, 0.0))
    grads = tape.gradient(loss, leaves)
    return [o, *tf.nest.flatten(state)], grads


@pytest.mark.parametrize("guard_in_python", [False, True], ids=["cpu_kernel", "python_guard"])
@pytest.mark.parametrize("where", ["k", "v", "beta"])
@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("name", RULES)
def test_op_matches_the_guarded_chunked_form(name, normalize, where, guard_in_python,
                                             monkeypatch):
    rule = RULES[name]
    if where == "beta" and not rule.has_beta:
        pytest.skip("the sum rule has no beta")
    if guard_in_python:  # the path taken where a GPU is visible
        monkeypatch.setattr(memory_ops, "keeps_nonfinite_causal", lambda: False)
    rng = np.random.default_rng(3)
    inputs = rule.inputs(rng, 2, 70, 2, 5, 4, normalize=normalize, initial_state=True)
    inputs[where][0, 45] = np.nan  # in the op's second tile of 32 rows
    inputs[where][1, 3, 1] = np.inf
    cotangent = rng.standard_normal(inputs["v"].shape).astype("float32")
    op = _outputs_and_grads(rule, inputs, normalize, "op", cotangent)
    chunked = _outputs_and_grads(rule, inputs, normalize, "chunked", cotangent)
    for a, b in zip(op[0] + op[1], chunked[0] + chunked[1]):
        a, b = a.numpy(), b.numpy()
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        finite = np.isfinite(b)
        assert bu.relative_error(b[finite], a[finite]) < 1e-5
    o = op[0][0].numpy()
    assert np.isfinite(o[0, :45]).all() and not np.isfinite(o[0, 45:]).any()
    assert np.isfinite(o[1, :, 0]).all()  # the other head of that row is untouched
    assert np.isfinite(o[1, :3, 1]).all() and not np.isfinite(o[1, 3:, 1]).any()
