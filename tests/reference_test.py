"""Self-checks of the float64 NumPy reference (tests/reference.py).

Hand-derived gradients are compared with central finite differences of the
forward functions, and the forwards with small hand-checked cases.
"""

import os
import sys

import numpy as np
import pytest

# Import the sibling module whether or not tests/ is a package.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

B, T, H, DK, DV = 2, 5, 2, 3, 4
TQ = 3  # query length for non-causal attention, != T on purpose
FD_STEP = 1e-6
FD_RTOL = 1e-7


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _positive(rng, shape):
    # Positive, sum-normalised features keep normalisers well away from 0.
    return ref.sum_normalize(ref.elu_plus_one(rng.standard_normal(shape)))


def _inputs(rng, positive, tq=T):
    if positive:
        q, k = _positive(rng, (B, tq, H, DK)), _positive(rng, (B, T, H, DK))
    else:
        q = rng.standard_normal((B, tq, H, DK))
        k = rng.standard_normal((B, T, H, DK))
    v = rng.standard_normal((B, T, H, DV))
    beta = rng.uniform(0.1, 0.9, size=(B, T, H))
    return q, k, v, beta


def _state(rng, normalize):
    S0 = rng.standard_normal((B, H, DK, DV))
    if not normalize:
        return S0
    z0 = 1.0 + rng.uniform(size=(B, H, DK))  # a positive running key sum
    return S0, z0


def _split(state, normalize):
    return state if normalize else (state, None)


def _numeric_grad(loss, arrays):
    """Central differences of loss(arrays) w.r.t. each array in the dict."""
    grads = {}
    for name, x in arrays.items():
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            orig = x[idx]
            x[idx] = orig + FD_STEP
            lp = loss(arrays)
            x[idx] = orig - FD_STEP
            lm = loss(arrays)
            x[idx] = orig
            g[idx] = (lp - lm) / (2 * FD_STEP)
        grads[name] = g
    return grads


def _assert_close(analytic, numeric, name):
    err = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
    assert analytic.shape == numeric.shape, name
    assert err < FD_RTOL, f"{name}: relative error {err:.3e}"


def _check_grads(forward, grad, arrays, normalize, with_state, with_dstate,
                 seed, out_len):
    """Compare grad(...) with finite differences of forward(...).

    forward(arrays, state) -> (o, final_state); grad(arrays, state, do, dstate)
    -> dict. arrays holds the differentiable inputs (plus "S0"/"z0").
    """
    rng = np.random.default_rng(seed + 1000)
    do = rng.standard_normal((B, out_len, H, DV))
    dstate = _state(rng, normalize) if with_dstate else None
    dS, dz = _split(dstate, normalize) if with_dstate else (None, None)

    def state_of(a):
        if not with_state:
            return None
        return (a["S0"], a["z0"]) if normalize else a["S0"]

    def loss(a):
        o, fin = forward(a, state_of(a))
        S, z = _split(fin, normalize)
        total = np.sum(do * o)
        if dS is not None:
            total += np.sum(dS * S)
        if dz is not None:
            total += np.sum(dz * z)
        return total

    analytic = grad(arrays, state_of(arrays), do, dstate)
    numeric = _numeric_grad(loss, arrays)
    for name in arrays:
        if name in ("S0", "z0"):
            continue
        _assert_close(analytic[name], numeric[name], name)
    dS0, dz0 = _split(analytic["initial_state"], normalize)
    assert dS0.shape == (B, H, DK, DV)
    if normalize:
        assert dz0.shape == (B, H, DK)
    if with_state:
        _assert_close(dS0, numeric["S0"], "S0")
        if normalize:
            _assert_close(dz0, numeric["z0"], "z0")


def _state_arrays(rng, normalize, with_state):
    if not with_state:
        return {}
    S0, z0 = _split(_state(rng, normalize), normalize)
    return {"S0": S0, "z0": z0} if normalize else {"S0": S0}


OPTIONS = pytest.mark.parametrize("with_state", [False, True])
DSTATE = pytest.mark.parametrize("with_dstate", [False, True])
NORM = pytest.mark.parametrize("normalize", [False, True])


# ---------------------------------------------------------------------------
# Gradients vs finite differences
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("causal", [True, False])
@NORM
@OPTIONS
@DSTATE
def test_linear_attention_grad(causal, normalize, with_state, with_dstate):
    seed = 10 * causal + 4 * normalize + 2 * with_state + with_dstate
    rng = np.random.default_rng(seed)
    tq = T if causal else TQ
    q, k, v, _ = _inputs(rng, positive=normalize, tq=tq)
    arrays = {"q": q, "k": k, "v": v, **_state_arrays(rng, normalize, with_state)}

    def forward(a, state):
        return ref.linear_attention(a["q"], a["k"], a["v"], causal=causal,
                                    normalize=normalize, initial_state=state)

    def grad(a, state, do, dstate):
        return ref.linear_attention_grad(a["q"], a["k"], a["v"], do,
                                         causal=causal, normalize=normalize,
                                         initial_state=state, d_state=dstate)

    _check_grads(forward, grad, arrays, normalize, with_state, with_dstate,
                 seed, tq)


@NORM
@OPTIONS
@DSTATE
def test_delta_rule_grad(normalize, with_state, with_dstate):
    seed = 100 + 4 * normalize + 2 * with_state + with_dstate
    rng = np.random.default_rng(seed)
    q, k, v, beta = _inputs(rng, positive=normalize)
    arrays = {"q": q, "k": k, "v": v, "beta": beta,
              **_state_arrays(rng, normalize, with_state)}

    def forward(a, state):
        return ref.delta_rule(a["q"], a["k"], a["v"], a["beta"],
                              normalize=normalize, initial_state=state)

    def grad(a, state, do, dstate):
        return ref.delta_rule_grad(a["q"], a["k"], a["v"], a["beta"], do,
                                   normalize=normalize, initial_state=state,
                                   d_state=dstate)

    _check_grads(forward, grad, arrays, normalize, with_state, with_dstate,
                 seed, T)


@OPTIONS
@DSTATE
def test_gated_rule_grad(with_state, with_dstate):
    seed = 200 + 2 * with_state + with_dstate
    rng = np.random.default_rng(seed)
    q, k, v, beta = _inputs(rng, positive=False)
    arrays = {"q": q, "k": k, "v": v, "beta": beta,
              **_state_arrays(rng, False, with_state)}

    def forward(a, state):
        return ref.gated_rule(a["q"], a["k"], a["v"], a["beta"],
                              initial_state=state)

    def grad(a, state, do, dstate):
        return ref.gated_rule_grad(a["q"], a["k"], a["v"], a["beta"], do,
                                   initial_state=state, d_state=dstate)

    _check_grads(forward, grad, arrays, False, with_state, with_dstate,
                 seed, T)


def test_grad_without_state_matches_zero_state():
    rng = np.random.default_rng(7)
    q, k, v, beta = _inputs(rng, positive=False)
    do = rng.standard_normal(v.shape)
    zero = np.zeros((B, H, DK, DV))
    pairs = [
        (ref.linear_attention_grad(q, k, v, do),
         ref.linear_attention_grad(q, k, v, do, initial_state=zero)),
        (ref.delta_rule_grad(q, k, v, beta, do),
         ref.delta_rule_grad(q, k, v, beta, do, initial_state=zero)),
        (ref.gated_rule_grad(q, k, v, beta, do),
         ref.gated_rule_grad(q, k, v, beta, do, initial_state=zero)),
    ]
    for g_none, g_zero in pairs:
        for key in g_none:
            np.testing.assert_array_equal(g_none[key], g_zero[key])


# ---------------------------------------------------------------------------
# Hand-checked forward cases
# ---------------------------------------------------------------------------

@NORM
def test_sum_rule_equals_masked_attention(normalize):
    rng = np.random.default_rng(1)
    q, k, v, _ = _inputs(rng, positive=True)
    S0, z0 = _split(_state(rng, normalize), normalize)
    state = (S0, z0) if normalize else S0
    o, fin = ref.linear_attention(q, k, v, normalize=normalize,
                                  initial_state=state)
    mask = np.tril(np.ones((T, T)))
    for b in range(B):
        for h in range(H):
            Q, K, V = q[b, :, h], k[b, :, h], v[b, :, h]
            A = mask * (Q @ K.T)
            expected = A @ V + Q @ S0[b, h]
            if normalize:
                expected /= (A.sum(-1) + Q @ z0[b, h] + 1e-6)[:, None]
            np.testing.assert_allclose(o[b, :, h], expected, rtol=1e-12)
    S_fin, z_fin = _split(fin, normalize)
    np.testing.assert_allclose(S_fin, S0 + np.einsum("bthk,bthv->bhkv", k, v),
                               rtol=1e-12)
    if normalize:
        np.testing.assert_allclose(z_fin, z0 + k.sum(1), rtol=1e-12)


@NORM
def test_non_causal_attention(normalize):
    rng = np.random.default_rng(2)
    q, k, v, _ = _inputs(rng, positive=True, tq=TQ)
    S0, z0 = _split(_state(rng, normalize), normalize)
    state = (S0, z0) if normalize else S0
    o, fin = ref.linear_attention(q, k, v, causal=False, normalize=normalize,
                                  initial_state=state)
    assert o.shape == (B, TQ, H, DV)
    for b in range(B):
        for h in range(H):
            Q, K, V = q[b, :, h], k[b, :, h], v[b, :, h]
            expected = (Q @ K.T) @ V + Q @ S0[b, h]
            if normalize:
                expected /= ((Q @ K.T).sum(-1) + Q @ z0[b, h] + 1e-6)[:, None]
            np.testing.assert_allclose(o[b, :, h], expected, rtol=1e-12)
    # The memory after reading everything is the causal final state.
    _, fin_causal = ref.linear_attention(k, k, v, normalize=normalize,
                                         initial_state=state)
    for a, c in zip(_split(fin, normalize), _split(fin_causal, normalize)):
        if a is not None:
            np.testing.assert_allclose(a, c, rtol=1e-12)


def test_delta_rule_overwrites_value():
    # One unit-norm key written twice with beta = 1: the second value replaces
    # the first instead of being added to it (the point of the delta rule).
    key = np.array([0.6, 0.0, 0.8])
    v1, v2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([-5.0, 0.5, 7.0, 1.0])
    k = np.broadcast_to(key, (1, 2, 1, 3)).copy()
    v = np.stack([v1, v2])[None, :, None, :]
    beta = np.ones((1, 2, 1))
    o, S = ref.delta_rule(k, k, v, beta)
    np.testing.assert_allclose(o[0, 0, 0], v1, atol=1e-12)
    np.testing.assert_allclose(o[0, 1, 0], v2, atol=1e-12)
    np.testing.assert_allclose(S[0, 0], np.outer(key, v2), atol=1e-12)
    # The sum rule instead retrieves the superposition v1 + v2.
    o_sum, _ = ref.linear_attention(k, k, v)
    np.testing.assert_allclose(o_sum[0, 1, 0], v1 + v2, atol=1e-12)


def test_delta_rule_partial_beta_interpolates():
    # With a unit key, the retrieved value moves a beta fraction towards v.
    key = np.array([1.0, 0.0, 0.0])
    v1, v2 = np.array([2.0, 0.0]), np.array([0.0, 4.0])
    k = np.broadcast_to(key, (1, 2, 1, 3)).copy()
    v = np.stack([v1, v2])[None, :, None, :]
    beta = np.array([1.0, 0.25]).reshape(1, 2, 1)
    o, _ = ref.delta_rule(k, k, v, beta)
    np.testing.assert_allclose(o[0, 1, 0], 0.75 * v1 + 0.25 * v2, atol=1e-12)


def test_delta_rule_normalized_hand_case():
    # Two steps of Eq. 26-28 worked out by hand (eps = 0, z0 = (1, 1)):
    # t=0: d = 1, vbar = 0, S = 0.5 k0^T 2 = [[1], [0]], z = (2, 1), o = 1/2.
    # t=1: d = 1.5, vbar = 0.5 / 1.5 = 1/3, S += k1^T (6 - 1/3)
    #      = [[23/6], [17/6]], z = (2.5, 1.5), o = (17/6) / 1.5 = 17/9.
    k = np.array([[1.0, 0.0], [0.5, 0.5]]).reshape(1, 2, 1, 2)
    q = np.array([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 1, 2)
    v = np.array([2.0, 6.0]).reshape(1, 2, 1, 1)
    beta = np.array([0.5, 1.0]).reshape(1, 2, 1)
    state = (np.zeros((1, 1, 2, 1)), np.ones((1, 1, 2)))
    o, (S, z) = ref.delta_rule(q, k, v, beta, normalize=True,
                               initial_state=state, eps=0.0)
    np.testing.assert_allclose(o[0, :, 0, 0], [0.5, 17 / 9], rtol=1e-12)
    np.testing.assert_allclose(S[0, 0, :, 0], [23 / 6, 17 / 6], rtol=1e-12)
    np.testing.assert_allclose(z[0, 0], [2.5, 1.5], rtol=1e-12)


def test_gated_rule_beta_one_keeps_newest():
    rng = np.random.default_rng(3)
    q, k, v, _ = _inputs(rng, positive=False)
    S0 = _state(rng, False)
    beta = np.ones((B, T, H))
    o, S = ref.gated_rule(q, k, v, beta, initial_state=S0)
    expected = np.einsum("bthk,bthk->bth", q, k)[..., None] * v
    np.testing.assert_allclose(o, expected, rtol=1e-12)
    np.testing.assert_allclose(S, np.einsum("bhk,bhv->bhkv", k[:, -1], v[:, -1]),
                               rtol=1e-12)
    # beta = 0 never writes: the state stays at S0.
    o0, S_keep = ref.gated_rule(q, k, v, np.zeros((B, T, H)), initial_state=S0)
    np.testing.assert_allclose(S_keep, S0)
    np.testing.assert_allclose(o0, np.einsum("bthk,bhkv->bthv", q, S0),
                               rtol=1e-12)


@pytest.mark.parametrize("rule, normalize", [
    ("sum", False), ("sum", True), ("delta", False), ("delta", True),
    ("gated", False)])
def test_state_carry_over_chunks(rule, normalize):
    # Running two chunks with the carried state equals one run over all steps.
    rng = np.random.default_rng(4)
    q, k, v, beta = _inputs(rng, positive=True)

    def run(sl, state):
        if rule == "sum":
            return ref.linear_attention(q[:, sl], k[:, sl], v[:, sl],
                                        normalize=normalize, initial_state=state)
        if rule == "delta":
            return ref.delta_rule(q[:, sl], k[:, sl], v[:, sl], beta[:, sl],
                                  normalize=normalize, initial_state=state)
        return ref.gated_rule(q[:, sl], k[:, sl], v[:, sl], beta[:, sl],
                              initial_state=state)

    o_full, fin_full = run(slice(None), None)
    o1, st = run(slice(0, 2), None)
    o2, fin = run(slice(2, None), st)
    np.testing.assert_allclose(np.concatenate([o1, o2], 1), o_full, rtol=1e-12)
    for a, c in zip(_split(fin, normalize), _split(fin_full, normalize)):
        if a is not None:
            np.testing.assert_allclose(a, c, rtol=1e-12)


# ---------------------------------------------------------------------------
# Feature maps and normalisations
# ---------------------------------------------------------------------------

def test_dpfp_fig1_single_nonzero():
    for x in ([1.0, 2.0], [1.0, -2.0], [-0.3, 0.7], [-1.5, -0.2]):
        phi = ref.dpfp(np.array(x), nu=1)
        assert phi.shape == (4,)
        assert np.count_nonzero(phi) == 1
        assert np.all(phi >= 0)


def test_dpfp_hand_values_and_size():
    # x = (1, -2, 3): x' = (1, 0, 3, 0, 2, 0);
    # roll 1 = (0, 1, 0, 3, 0, 2) -> product 0; roll 2 = (2, 0, 1, 0, 3, 0).
    phi = ref.dpfp(np.array([1.0, -2.0, 3.0]), nu=2)
    np.testing.assert_array_equal(phi, [0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 6, 0])
    x = np.random.default_rng(5).standard_normal((2, 3, 5))
    for nu in (1, 2, 3):
        assert ref.dpfp(x, nu).shape == (2, 3, 2 * nu * 5)


def test_elu_plus_one():
    x = np.array([-1000.0, -1.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(ref.elu_plus_one(x),
                               [0.0, np.exp(-1.0), 1.0, 1.5, 4.0], atol=1e-300)
    assert np.all(ref.elu_plus_one(np.linspace(-30, 30, 101)) > 0)


def test_favor_plus_formula_and_kernel():
    rng = np.random.default_rng(6)
    d, m = 4, 3
    R = rng.standard_normal((m, d))
    x = rng.standard_normal((2, d))
    phi = ref.favor_plus(x, R)
    direct = (np.exp(-0.5 * np.sum(x * x, -1, keepdims=True)) / np.sqrt(2 * m)
              * np.concatenate([np.exp(x @ R.T), np.exp(-x @ R.T)], -1))
    assert phi.shape == (2, 2 * m)
    np.testing.assert_allclose(phi, direct, rtol=1e-12)
    # Log-space evaluation stays finite where the direct form overflows.
    big = np.full((1, d), 400.0)
    assert np.all(np.isfinite(ref.favor_plus(big, R)))
    # Unbiased softmax-kernel estimate: E[phi(x) . phi(y)] = exp(x . y).
    m = 200000
    R = rng.standard_normal((m, d))
    x, y = 0.3 * rng.standard_normal(d), 0.3 * rng.standard_normal(d)
    est = ref.favor_plus(x, R) @ ref.favor_plus(y, R)
    np.testing.assert_allclose(est, np.exp(x @ y), rtol=2e-2)


def test_normalizations():
    x = np.array([[1.0, 3.0], [0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(ref.sum_normalize(x),
                               [[0.25, 0.75], [0.0, 0.0], [3 / 7, 4 / 7]])
    np.testing.assert_allclose(ref.l2_normalize(x),
                               [[1 / np.sqrt(10), 3 / np.sqrt(10)], [0.0, 0.0],
                                [0.6, 0.8]])
    tiny = np.array([1e-9, 1e-9])
    np.testing.assert_allclose(ref.sum_normalize(tiny), tiny / 1e-6)
    np.testing.assert_allclose(ref.l2_normalize(tiny), tiny / 1e-6)
