"""`fwp_keras.ops.gated_rule` (Peng et al. 2021; paper Appendix B, Eq. 52) against the float64
NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu
from rule_contract import RuleContract, pytest_generate_tests  # noqa: F401 (the hook)


def saturated_inputs():
    """Some gates exactly 1 (a saturated float32 sigmoid): the memory forgets everything before."""
    inputs = bu.GATED.inputs(np.random.default_rng(9), 1, 40, 2, 5, 3, initial_state=True)
    inputs["beta"][:, ::7] = 1.0
    return inputs


class TestGatedRule(RuleContract):
    RULE = bu.GATED

    @pytest.mark.parametrize("implementation", ["recurrent", "chunked"])
    def test_saturated_gates(self, implementation):
        """Forward and every gradient, beta's included, stay exact where a gate is exactly 1."""
        bu.check_against_reference(self.RULE, saturated_inputs(), implementation=implementation,
                                   chunk_size=16)
