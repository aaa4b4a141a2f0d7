"""The checks every memory program passes, run by each rule's test file as a subclass.

A subclass sets `RULE` (a `backend_utils.Rule`); `normalize` is parametrised from it by
`pytest_generate_tests` below, which each test module imports ([False, True], or [False] for a rule without attention
normalisation).
"""

import numpy as np
import pytest

import backend_utils as bu


class RuleContract:
    RULE = None

    @pytest.mark.parametrize("shape,implementation,chunk_size", bu.REFERENCE_CASES,
                             ids=bu.REFERENCE_CASE_IDS)
    def test_matches_reference(self, shape, implementation, chunk_size, normalize):
        bu.check_reference_case(self.RULE, shape, implementation, chunk_size, normalize)

    @pytest.mark.parametrize("initial_state", [False, True], ids=["zero_state", "initial_state"])
    def test_steps_match_sequence(self, initial_state, normalize):
        bu.check_steps(self.RULE, np.random.default_rng(3), normalize, initial_state)

    @pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
    def test_segments_match_one_pass(self, implementation, normalize):
        bu.check_segments(self.RULE, np.random.default_rng(4), normalize, implementation)

    @pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
    def test_float64(self, implementation, normalize):
        bu.check_float64(self.RULE, np.random.default_rng(5), normalize, implementation)

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    def test_low_precision(self, dtype, normalize):
        bu.check_low_precision(self.RULE, np.random.default_rng(6), normalize, dtype, "auto")

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    def test_step_low_precision(self, dtype, normalize):
        bu.check_step_low_precision(self.RULE, np.random.default_rng(11), normalize, dtype)

    @pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="tf.function (JAX tests run jitted)")
    @pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
    def test_tf_function_unknown_batch_and_time(self, implementation, normalize):
        bu.check_tf_function(self.RULE, np.random.default_rng(7), normalize, implementation)

    def test_bad_input(self, bad_input):
        bu.check_bad_input(self.RULE, *bad_input)


def pytest_generate_tests(metafunc):
    """Parametrises `normalize` and `bad_input` from the test class's RULE (a test module that
    imports this hook gets it)."""
    rule = getattr(metafunc.cls, "RULE", None)
    if rule is None:
        return
    if "normalize" in metafunc.fixturenames:
        options = [False, True] if rule.has_normalize else [False]
        metafunc.parametrize("normalize", options,
                             ids=["plain", "normalized"][: len(options)])
    if "bad_input" in metafunc.fixturenames:
        metafunc.parametrize("bad_input", bu.bad_input_cases(rule))
