"""`fwp_keras.ops.delta_rule` (Eq. 20-25, normalised variant Eq. 26-28) against the float64
NumPy reference."""

import numpy as np
import pytest

import backend_utils as bu
from rule_contract import RuleContract, pytest_generate_tests  # noqa: F401 (the hook)


class TestDeltaRule(RuleContract):
    RULE = bu.DELTA

    @pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="tf.test.compute_gradient is TensorFlow's")
    def test_float64_numeric_gradient(self, normalize):
        """Theoretical vs numeric Jacobians of the chunked form (three chunks, the last partial)."""
        import tensorflow as tf

        inputs = self.RULE.inputs(np.random.default_rng(8), 1, 5, 1, 3, 2, normalize=normalize,
                                  initial_state=True, dtype="float64")
        paths, leaves = zip(*bu.leaves_with_paths(inputs))

        @tf.function
        def outputs(*leaves):
            o, state = self.RULE(bu.pack_like(inputs, leaves), normalize, return_state=True,
                                 implementation="chunked", chunk_size=2)
            return tf.concat([tf.reshape(x, [-1]) for x in tf.nest.flatten((o, state))], axis=0)

        theoretical, numeric = tf.test.compute_gradient(
            outputs, [tf.constant(x) for x in leaves], delta=2.0**-20
        )
        for path, t, n in zip(paths, theoretical, numeric):
            assert bu.relative_error(n, t) < 1e-8, path
