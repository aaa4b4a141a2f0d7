"""`fwp_keras.ops.delta_rule` (Eq. 20-25, normalised variant Eq. 26-28) against the float64
NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu

RULE = bu.DELTA
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


@pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="tf.test.compute_gradient is TensorFlow's")
@NORMALIZE
def test_float64_numeric_gradient(normalize):
    """Theoretical vs numeric Jacobians of the chunked form (three chunks, the last partial)."""
    import tensorflow as tf

    inputs = RULE.inputs(np.random.default_rng(8), 1, 5, 1, 3, 2, normalize=normalize,
                         initial_state=True, dtype="float64")
    paths, leaves = zip(*bu.leaves_with_paths(inputs))

    @tf.function
    def outputs(*leaves):
        o, state = RULE(bu.pack_like(inputs, leaves), normalize, return_state=True,
                        implementation="chunked", chunk_size=2)
        return tf.concat([tf.reshape(x, [-1]) for x in tf.nest.flatten((o, state))], axis=0)

    theoretical, numeric = tf.test.compute_gradient(
        outputs, [tf.constant(x) for x in leaves], delta=2.0**-20
    )
    for path, t, n in zip(paths, theoretical, numeric):
        assert bu.relative_error(n, t) < 1e-8, path
