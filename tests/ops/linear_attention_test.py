"""`fwp_keras.ops.linear_attention` (sum rule, Eq. 17-19) against the float64 NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu

RULE = bu.LINEAR
NORMALIZE = bu.normalize_options(RULE)


@NORMALIZE
@pytest.mark.parametrize("shape,implementation,chunk_size", bu.REFERENCE_CASES,
                         ids=bu.REFERENCE_CASE_IDS)
def test_matches_reference(shape, implementation, chunk_size, normalize):
    bu.check_reference_case(RULE, shape, implementation, chunk_size, normalize)


@NORMALIZE
@pytest.mark.parametrize("query_length,length,initial_state",
                         [(20, 20, True), (7, 20, False), (20, 7, True)],
                         ids=["self", "short_queries", "long_queries"])
def test_bidirectional_and_cross_attention(query_length, length, initial_state, normalize):
    rng = np.random.default_rng(2)
    inputs = RULE.inputs(rng, 2, length, 3, 6, 4, normalize=normalize,
                         initial_state=initial_state, query_length=query_length)
    bu.check_against_reference(RULE, inputs, normalize=normalize, causal=False)


@NORMALIZE
@pytest.mark.parametrize("initial_state", [False, True], ids=["zero_state", "initial_state"])
def test_steps_match_sequence(initial_state, normalize):
    bu.check_steps(RULE, np.random.default_rng(3), normalize, initial_state)


@NORMALIZE
@pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
def test_segments_match_one_pass(implementation, normalize):
    bu.check_segments(RULE, np.random.default_rng(4), normalize, implementation)


@NORMALIZE
@pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
def test_float64(implementation, normalize):
    bu.check_float64(RULE, np.random.default_rng(5), normalize, implementation)


@NORMALIZE
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision(dtype, normalize):
    bu.check_low_precision(RULE, np.random.default_rng(6), normalize, dtype, "auto")


@NORMALIZE
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_step_low_precision(dtype, normalize):
    bu.check_step_low_precision(RULE, np.random.default_rng(11), normalize, dtype)


@pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="tf.function (JAX tests run jitted)")
@NORMALIZE
@pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
def test_tf_function_unknown_batch_and_time(implementation, normalize):
    bu.check_tf_function(RULE, np.random.default_rng(7), normalize, implementation)


@pytest.mark.parametrize("normalize,changes,kwargs,match", bu.bad_input_cases(RULE))
def test_bad_input(normalize, changes, kwargs, match):
    bu.check_bad_input(RULE, normalize, changes, kwargs, match)


def test_bidirectional_needs_equal_key_and_value_lengths():
    inputs = RULE.inputs(np.random.default_rng(10), 2, 6, 3, 4, 5, query_length=3)
    inputs["v"] = inputs["v"][:, :5]
    with pytest.raises(ValueError, match="`k` and `v`.*length"):
        RULE(inputs, causal=False, jit=False)
