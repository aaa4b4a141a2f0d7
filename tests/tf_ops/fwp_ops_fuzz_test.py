"""Property-based shape fuzzing: any B, T, H, Dk, Dv (zeros included), any chunk size, either
rule, with or without normalisation, forward and gradients equal the float64 reference."""

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend_utils import assert_close, leaves_with_paths
from op_utils import (RULES, make_inputs, op_value_and_grads, random_cotangents,
                      reference_grads, reference_outputs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=st.sampled_from(RULES),
    normalize=st.booleans(),
    batch=st.integers(0, 2),
    length=st.integers(0, 80),
    heads=st.integers(1, 3),
    dk=st.integers(1, 20),
    dv=st.integers(1, 20),
    chunk_size=st.integers(1, 70),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_shape_matches_reference(rule, normalize, batch, length, heads, dk, dv, chunk_size,
                                     seed):
    rng = np.random.default_rng(seed)
    x = make_inputs(rng, rule, batch, length, heads, dk, dv)
    cotangents = random_cotangents(rng, x)
    outputs, grads = op_value_and_grads(rule, x, cotangents, normalize, dtype=tf.float64,
                                        chunk_size=chunk_size)
    assert_close(outputs, list(reference_outputs(rule, x, normalize)), 1e-10, "outputs")
    assert_gradients_close(grads, reference_grads(rule, x, cotangents, normalize))


def assert_gradients_close(actual, expected, tol=1e-7, floor=1e-12):
    """Relative error <= `tol` per leaf, except where a gradient cancels to about nothing (Dk = 1
    with attention normalisation: `q S / (q . z + eps)` does not depend on q, so dq ~ 1e-9 and
    its rounding is a large fraction of it): there the absolute error, `<= floor`, counts."""
    for (path, a), (_, e) in zip(leaves_with_paths(actual), leaves_with_paths(expected)):
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        assert a.shape == e.shape, f"grads{path}: shape {a.shape} != expected {e.shape}"
        if np.linalg.norm(a - e) > floor:
            assert_close(a, e, tol, f"grads{path}")
