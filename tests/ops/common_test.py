"""The numerical building blocks of the chunked forms (`fwp_keras.ops._common`) against NumPy."""

import numpy as np
import pytest

import backend_utils as bu
from fwp_keras.ops import _common as common


@pytest.mark.parametrize("size", [1, 2, 5, 16, 33, 64])
def test_unit_lower_inverse(size):
    """(I + L)^{-1} by blocked doubling, sizes that are and are not powers of two."""
    lower = np.tril(np.random.default_rng(size).uniform(0, 1, (3, 2, size, size)), -1)
    with bu.float64_enabled():
        inverse = bu.to_numpy(common.unit_lower_inverse(bu.to_tensor(lower, "float64")))
    expected = np.linalg.inv(np.eye(size) + lower)
    assert bu.relative_error(expected, inverse) < 1e-13


@pytest.mark.parametrize("size", [1, 5, 16, 64])
def test_solve_unit_lower(size):
    rng = np.random.default_rng(size)
    lower = np.tril(rng.uniform(0, 1, (2, size, size)), -1)
    rhs = rng.standard_normal((2, size, 7))
    with bu.float64_enabled():
        solved = bu.to_numpy(common.solve_unit_lower(*bu.to_tensor((lower, rhs), "float64")))
    assert bu.relative_error(np.linalg.solve(np.eye(size) + lower, rhs), solved) < 1e-13


def test_cumprod_with_zeros():
    x = np.random.default_rng(0).uniform(0, 1, (4, 13))
    x[:, 3] = 0.0
    with bu.float64_enabled():
        out = bu.to_numpy(common.cumprod(bu.to_tensor(x, "float64"), axis=-1))
    np.testing.assert_allclose(out, np.cumprod(x, axis=-1), rtol=1e-14, atol=0)


def test_implementation_op_needs_the_tensorflow_backend_and_a_rule_with_an_op():
    import fwp_keras.ops as fwp

    rng = np.random.default_rng(0)
    q = bu.to_tensor(bu.features(rng, (1, 4, 1, 3)), "float32")
    beta = bu.to_tensor(bu.gates(rng, (1, 4, 1)), "float32")
    with pytest.raises(ValueError, match="implementation"):
        fwp.gated_rule(q, q, q, beta, implementation="op")
    if bu.BACKEND == "tensorflow":
        out = fwp.linear_attention(q, q, q, implementation="op")
        assert tuple(out.shape) == (1, 4, 1, 3)
    else:
        with pytest.raises(ValueError, match="needs the TensorFlow backend"):
            fwp.linear_attention(q, q, q, implementation="op")
