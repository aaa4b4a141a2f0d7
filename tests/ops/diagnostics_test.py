"""The memory diagnostics' per-step statistics against float64 NumPy written from the paper's
equations (Eq. 17-20: v_bar = S^T k, S += beta k (v - v_bar)^T; Eq. 4-6: z += k, z . q)."""

import numpy as np
import pytest

from backend_utils import features, gates, to_numpy
from fwp_keras.ops.diagnostics import memory_statistics


def reference(q, k, v, beta, update_rule, normalize, eps=1e-6):
    B, T, H, Dk = q.shape
    Dv = v.shape[-1]
    S, z = np.zeros((B, H, Dk, Dv)), np.zeros((B, H, Dk))
    out = {name: np.zeros((B, T, H)) for name in (
        "value_norm", "retrieved_norm", "update_norm", "state_norm", "normalizer")}
    for b in range(B):
        for h in range(H):
            for t in range(T):
                qt, kt, vt = q[b, t, h], k[b, t, h], v[b, t, h]
                vbar = S[b, h].T @ kt
                if normalize:
                    vbar = vbar / (z[b, h] @ kt + eps)
                if update_rule == "sum":
                    update = vt
                    S[b, h] += np.outer(kt, vt)
                else:
                    update = beta[b, t, h] * (vt - vbar)
                    S[b, h] += np.outer(kt, update)
                z[b, h] += kt
                out["value_norm"][b, t, h] = np.linalg.norm(vt)
                out["retrieved_norm"][b, t, h] = np.linalg.norm(vbar)
                out["update_norm"][b, t, h] = np.linalg.norm(update)
                out["state_norm"][b, t, h] = np.linalg.norm(S[b, h])
                out["normalizer"][b, t, h] = z[b, h] @ qt
    if not normalize:
        del out["normalizer"]
    return out


@pytest.mark.parametrize("update_rule,normalize", [
    ("sum", True), ("sum", False), ("delta", False), ("delta", True)])
def test_statistics_follow_the_equations(update_rule, normalize):
    rng = np.random.default_rng(0)
    B, T, H, Dk, Dv = 2, 7, 2, 5, 3
    q, k = features(rng, (B, T, H, Dk)), features(rng, (B, T, H, Dk))
    v = rng.standard_normal((B, T, H, Dv))
    beta = gates(rng, (B, T, H)) if update_rule == "delta" else None
    got = memory_statistics(q.astype("float32"), k.astype("float32"), v.astype("float32"),
                            None if beta is None else beta.astype("float32"),
                            update_rule=update_rule, normalize=normalize)
    expected = reference(q, k, v, beta, update_rule, normalize)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(to_numpy(got[name]), value, rtol=2e-5, atol=1e-6,
                                   err_msg=name)
