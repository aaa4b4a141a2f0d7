"""`fwp_keras.ops.linear_attention` (sum rule, Eq. 17-19) against the float64 NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu
from rule_contract import RuleContract, pytest_generate_tests  # noqa: F401 (the hook)


class TestLinearAttention(RuleContract):
    RULE = bu.LINEAR

    @pytest.mark.parametrize("query_length,length,initial_state",
                             [(20, 20, True), (7, 20, False), (20, 7, True)],
                             ids=["self", "short_queries", "long_queries"])
    def test_bidirectional_and_cross_attention(self, query_length, length, initial_state,
                                               normalize):
        inputs = self.RULE.inputs(np.random.default_rng(2), 2, length, 3, 6, 4,
                                  normalize=normalize, initial_state=initial_state,
                                  query_length=query_length)
        bu.check_against_reference(self.RULE, inputs, normalize=normalize, causal=False)

    def test_bidirectional_needs_equal_key_and_value_lengths(self):
        inputs = self.RULE.inputs(np.random.default_rng(10), 2, 6, 3, 4, 5, query_length=3)
        inputs["v"] = inputs["v"][:, :5]
        with pytest.raises(ValueError, match="`k` and `v`.*length"):
            self.RULE(inputs, causal=False, jit=False)
