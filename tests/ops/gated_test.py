"""`fwp_keras.ops.gated_rule` (Peng et al. 2021; paper Appendix B, Eq. 52) against the float64
NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu

RULE = bu.GATED
NORMALIZE = bu.normalize_options(RULE)


@NORMALIZE
@pytest.mark.parametrize("shape,implementation,chunk_size", bu.REFERENCE_CASES,
                         ids=bu.REFERENCE_CASE_IDS)
def test_matches_reference(shape, implementation, chunk_size, normalize):
    bu.check_reference_case(RULE, shape, implementation, chunk_size, normalize)


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


def saturated_inputs():
    """Some gates exactly 1 (a saturated float32 sigmoid): the memory forgets everything before."""
    inputs = RULE.inputs(np.random.default_rng(9), 1, 40, 2, 5, 3, initial_state=True)
    inputs["beta"][:, ::7] = 1.0
    return inputs


@pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
def test_saturated_gates(implementation):
    bu.check_against_reference(RULE, saturated_inputs(), implementation=implementation,
                               chunk_size=16, skip_grads=("beta",))


@pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
def test_saturated_gates_beta_gradient(implementation):
    inputs = saturated_inputs()
    bu.check_against_reference(RULE, inputs, implementation=implementation, chunk_size=16,
                               skip_grads=tuple(name for name in inputs if name != "beta"))
