"""Property-based shape fuzzing: any B, T, H, Dk, Dv (zeros included), any chunk size, either
rule, with or without normalisation, forward and gradients equal the float64 reference."""

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend_utils import assert_close
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
    # Gradients may cancel (Dk = 1, normalised: dq ~ eps): a looser, still float64, bound.
    assert_close(grads, reference_grads(rule, x, cotangents, normalize), 1e-7, "grads")
