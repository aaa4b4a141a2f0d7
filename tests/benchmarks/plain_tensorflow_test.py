"""The benchmark's plain-TensorFlow baselines compute the paper's memories (else their timings
would compare the ops with something else)."""

import numpy as np
import pytest
import tensorflow as tf

import reference
from benchmarks import plain_tensorflow


def _inputs(seed, b=2, t=96, h=3, dk=5, dv=7):
    rng = np.random.default_rng(seed)
    q = reference.sum_normalize(reference.elu_plus_one(rng.standard_normal((b, t, h, dk))))
    k = reference.sum_normalize(reference.elu_plus_one(rng.standard_normal((b, t, h, dk))))
    v = rng.standard_normal((b, t, h, dv))
    beta = 1 / (1 + np.exp(-rng.standard_normal((b, t, h))))
    return q, k, v, beta


@pytest.mark.parametrize("chunk_size", [1, 32, 96])
def test_sum_rule_matches_reference(chunk_size):
    q, k, v, _ = _inputs(0)
    expected, _ = reference.linear_attention(q, k, v)
    got = plain_tensorflow.sum_rule(*(tf.constant(x) for x in (q, k, v)), chunk_size=chunk_size)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 32, 96])
def test_delta_rule_matches_reference_forward_and_gradient(chunk_size):
    q, k, v, beta = _inputs(1)
    expected, _ = reference.delta_rule(q, k, v, beta)
    d_out = np.random.default_rng(2).standard_normal(expected.shape)
    expected_grads = reference.delta_rule_grad(q, k, v, beta, d_out)
    inputs = [tf.constant(x) for x in (q, k, v, beta)]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        got = plain_tensorflow.delta_rule(*inputs, chunk_size=chunk_size)
    grads = tape.gradient(got, inputs, output_gradients=tf.constant(d_out))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-11, atol=1e-11)
    for grad, name in zip(grads, ("q", "k", "v", "beta")):
        np.testing.assert_allclose(grad.numpy(), expected_grads[name], rtol=1e-10, atol=1e-10,
                                   err_msg=name)


def test_length_not_a_multiple_of_the_chunk_size_is_rejected():
    q, k, v, _ = _inputs(3, t=10)
    with pytest.raises(ValueError, match="chunk_size=4"):
        plain_tensorflow.sum_rule(q, k, v, chunk_size=4)
