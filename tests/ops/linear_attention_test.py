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


@pytest.mark.parametrize("normalize", [False, True])
def test_memory_then_read_is_the_bidirectional_form(normalize):
    """`linear_attention_memory` (written once, e.g. by an encoder) then
    `linear_attention_read` is cross-attention, against the float64 reference."""
    import reference
    from fwp_keras import ops as fwp

    rng = np.random.default_rng(4)
    q, k = bu.features(rng, (2, 5, 3, 6)), bu.features(rng, (2, 11, 3, 6))
    v = rng.normal(size=(2, 11, 3, 4))
    state = bu.make_state(rng, 2, 3, 6, 4, normalize)
    memory = fwp.linear_attention_memory(k, v, normalize=normalize, initial_state=state)
    o = fwp.linear_attention_read(q, memory, normalize=normalize)
    o_ref, memory_ref = reference.linear_attention(q, k, v, causal=False, normalize=normalize,
                                                   initial_state=state)
    bu.assert_close(o, o_ref, bu.FWD_TOL, "read")
    bu.assert_close(memory, memory_ref, bu.FWD_TOL, "memory")
    with pytest.raises(ValueError, match=r"`state(\[0\] \(S\))?` must have shape"):
        fwp.linear_attention_read(q[..., :5], memory, normalize=normalize)  # Dk 5, not 6
    with pytest.raises(ValueError, match="`state` is required"):
        fwp.linear_attention_read(q, None)
