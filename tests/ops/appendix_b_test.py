"""Paper Appendix B (DESIGN Section 3): what each update rule does to a value already stored.

With orthonormal keys k1, k2 and a first write (k1, v1) of strength 1, a second write (k2, v2):
the delta rule and the sum rule leave the value at k1 intact, the gated rule scales it by
(1 - beta2). Writing a new value v1' to the same key k1: the delta rule with beta2 = 1 replaces
v1 by v1' (in general it moves v1 a fraction beta2 towards v1'); the sum rule returns v1 + v1'.
Unit (L2) keys, no attention normalisation, the library ops in both implementations.
"""

import numpy as np
import pytest

import backend_utils as bu

B, H, DK, DV = 2, 3, 8, 5

IMPLEMENTATION = pytest.mark.parametrize(
    "implementation,chunk_size", [("recurrent", 64), ("chunked", 1), ("chunked", 64)],
    ids=["recurrent", "chunked1", "chunked64"],  # two writes in two chunks / in one chunk
)
BETA2 = pytest.mark.parametrize("beta2", ["one", "random"])


def orthonormal_rows(rng):
    """[B, H, DK, DK]: the rows of a random orthogonal matrix per batch and head."""
    q, _ = np.linalg.qr(rng.standard_normal((B, H, DK, DK)))
    return np.swapaxes(q, -1, -2)


def write_twice_and_read(rule, k1, v1, k2, v2, beta2, implementation, chunk_size):
    """Writes (k1, v1) with beta 1, then (k2, v2) with beta2; reads with q = k1 at both steps.

    Returns the reads [B, 2, H, DV] (after the first write, after the second).
    """
    inputs = {
        "q": np.stack([k1, k1], axis=1),
        "k": np.stack([k1, k2], axis=1),
        "v": np.stack([v1, v2], axis=1),
    }
    if rule.has_beta:
        inputs["beta"] = np.stack([np.ones_like(beta2), beta2], axis=1)
    inputs = bu.map_structure(lambda x: x.astype("float32"), inputs)
    return bu.to_numpy(rule(inputs, implementation=implementation, chunk_size=chunk_size))


def beta_values(rng, beta2):
    return np.ones((B, H)) if beta2 == "one" else rng.uniform(0.1, 0.9, (B, H))


def assert_reads(actual, first, second):
    np.testing.assert_allclose(actual[:, 0], first, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(actual[:, 1], second, rtol=1e-5, atol=2e-6)


@IMPLEMENTATION
@BETA2
@pytest.mark.parametrize("rule", [bu.DELTA, bu.GATED, bu.LINEAR], ids=repr)
def test_write_to_orthogonal_key(rule, beta2, implementation, chunk_size):
    rng = np.random.default_rng(20)
    keys = orthonormal_rows(rng)
    v1, v2 = rng.standard_normal((2, B, H, DV))
    b2 = beta_values(rng, beta2)
    reads = write_twice_and_read(rule, keys[..., 0, :], v1, keys[..., 1, :], v2, b2,
                                 implementation, chunk_size)
    kept = (1 - b2)[..., None] * v1 if rule is bu.GATED else v1
    assert_reads(reads, v1, kept)


@IMPLEMENTATION
@BETA2
@pytest.mark.parametrize("rule", [bu.DELTA, bu.GATED, bu.LINEAR], ids=repr)
def test_write_to_same_key(rule, beta2, implementation, chunk_size):
    rng = np.random.default_rng(21)
    k1 = orthonormal_rows(rng)[..., 0, :]
    v1, v1_new = rng.standard_normal((2, B, H, DV))
    b2 = beta_values(rng, beta2)[..., None]
    reads = write_twice_and_read(rule, k1, v1, k1, v1_new, b2[..., 0], implementation,
                                 chunk_size)
    expected = {
        "delta_rule": v1 + b2 * (v1_new - v1),  # v1_new itself for beta2 = 1
        "gated_rule": (1 - b2) * v1 + b2 * v1_new,
        "linear_attention": v1 + v1_new,  # the sum rule cannot overwrite
    }[rule.name]
    assert_reads(reads, v1, expected)
