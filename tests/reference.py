"""Independent float64 NumPy reference for fast weight programmers.

Written directly from the equations of Schlag, Irie & Schmidhuber (2021),
"Linear Transformers Are Secretly Fast Weight Programmers", and kept
deliberately plain: explicit per-time-step loops, vectorised only over batch
and heads, everything in float64. It imports nothing but NumPy so that it can
serve as ground truth for every implementation in the library.

Conventions
-----------
q, k: [B, T, H, Dk]; v: [B, T, H, Dv]; beta: [B, T, H].
Fast-weight state S: [B, H, Dk, Dv]; normaliser z: [B, H, Dk].
Row-vector form per (b, h): o_t = q_t S_t, with q_t a row of length Dk.

The backward functions are hand-derived reverse-mode recurrences for the
scalar loss

    L = sum(do * o) + sum(dS * S_final) (+ sum(dz * z_final) if normalised)

and return a dict with keys "q", "k", "v", ("beta"), "initial_state".
"""

import numpy as np

__all__ = [
    "linear_attention",
    "delta_rule",
    "gated_rule",
    "linear_attention_grad",
    "delta_rule_grad",
    "gated_rule_grad",
    "elu_plus_one",
    "favor_plus",
    "dpfp",
    "sum_normalize",
    "l2_normalize",
]


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _f64(x):
    return np.asarray(x, np.float64)


def _outer(a, b):
    """Per (b, h) outer product a^T b: [B,H,Dk] x [B,H,Dv] -> [B,H,Dk,Dv]."""
    return np.einsum("bhk,bhv->bhkv", a, b)


def _row_times(a, S):
    """Per (b, h) row vector times matrix: a S -> [B,H,Dv]."""
    return np.einsum("bhk,bhkv->bhv", a, S)


def _times_col(S, b):
    """Per (b, h) matrix times column vector: S b^T -> [B,H,Dk]."""
    return np.einsum("bhkv,bhv->bhk", S, b)


def _dot(a, b):
    """Per (b, h) inner product over the last axis -> [B,H]."""
    return np.einsum("bhd,bhd->bh", a, b)


def _init_state(initial_state, normalize, B, H, Dk, Dv):
    """Returns float64 copies (S0, z0); z0 is None when not normalising."""
    if normalize:
        if initial_state is None:
            return np.zeros((B, H, Dk, Dv)), np.zeros((B, H, Dk))
        S0, z0 = initial_state
        return _f64(S0).copy(), _f64(z0).copy()
    if initial_state is None:
        return np.zeros((B, H, Dk, Dv)), None
    return _f64(initial_state).copy(), None


def _pack_state(S, z, normalize):
    return (S, z) if normalize else S


def _init_cotangent(d_state, normalize, B, H, Dk, Dv):
    """Cotangents (dS, dz) of the final state; None components mean zeros."""
    dS, dz = (d_state if normalize and d_state is not None else (d_state, None))
    dS = np.zeros((B, H, Dk, Dv)) if dS is None else _f64(dS).copy()
    dz = np.zeros((B, H, Dk)) if dz is None else _f64(dz).copy()
    return dS, dz


# ---------------------------------------------------------------------------
# Forward passes
# ---------------------------------------------------------------------------

def linear_attention(q, k, v, causal=True, normalize=False,
                     initial_state=None, eps=1e-6):
    """Sum update rule (Eq. 17-19), i.e. (un)normalised linear attention.

    causal=True:  S_t = S_{t-1} + k_t^T v_t, z_t = z_{t-1} + k_t,
                  o_t = q_t S_t  [/ (q_t . z_t + eps)].
    causal=False: S = S0 + sum_t k_t^T v_t, z = z0 + sum_t k_t and every query
                  reads the full memory; q may have a different length.
    Returns (o, final_state); final_state is S, or (S, z) if normalize.
    """
    q, k, v = _f64(q), _f64(k), _f64(v)
    B, Tk, H, Dk = k.shape
    Dv = v.shape[-1]
    Tq = q.shape[1]
    S, z = _init_state(initial_state, normalize, B, H, Dk, Dv)
    if z is None:
        z = np.zeros((B, H, Dk))  # tracked but unused when not normalising
    o = np.zeros((B, Tq, H, Dv))

    if causal:
        assert Tq == Tk, "causal attention needs equal query/key lengths"
        for t in range(Tk):
            S = S + _outer(k[:, t], v[:, t])
            z = z + k[:, t]
            num = _row_times(q[:, t], S)
            if normalize:
                num = num / (_dot(q[:, t], z) + eps)[..., None]
            o[:, t] = num
    else:
        for t in range(Tk):
            S = S + _outer(k[:, t], v[:, t])
            z = z + k[:, t]
        for i in range(Tq):
            num = _row_times(q[:, i], S)
            if normalize:
                num = num / (_dot(q[:, i], z) + eps)[..., None]
            o[:, i] = num
    return o, _pack_state(S, z, normalize)


def delta_rule(q, k, v, beta, normalize=False, initial_state=None, eps=1e-6):
    """Delta update rule (Eq. 20-25; normalised variant Eq. 26-28).

    vbar_t = k_t S_{t-1}                  [/ (z_{t-1} . k_t + eps)]
    S_t    = S_{t-1} + beta_t k_t^T (v_t - vbar_t)
    z_t    = z_{t-1} + k_t                (normalised only)
    o_t    = q_t S_t                      [/ (z_t . q_t + eps)]
    Returns (o, final_state); final_state is S, or (S, z) if normalize.
    """
    q, k, v, beta = _f64(q), _f64(k), _f64(v), _f64(beta)
    B, T, H, Dk = k.shape
    Dv = v.shape[-1]
    S, z = _init_state(initial_state, normalize, B, H, Dk, Dv)
    o = np.zeros((B, T, H, Dv))
    for t in range(T):
        kt, vt, qt, bt = k[:, t], v[:, t], q[:, t], beta[:, t]
        vbar = _row_times(kt, S)
        if normalize:
            vbar = vbar / (_dot(z, kt) + eps)[..., None]
        S = S + bt[..., None, None] * _outer(kt, vt - vbar)
        num = _row_times(qt, S)
        if normalize:
            z = z + kt
            num = num / (_dot(z, qt) + eps)[..., None]
        o[:, t] = num
    return o, _pack_state(S, z, normalize)


def gated_rule(q, k, v, beta, initial_state=None):
    """Gated (decaying) sum rule of Peng et al. 2021 (paper Eq. 52).

    S_t = (1 - beta_t) S_{t-1} + beta_t k_t^T v_t ;  o_t = q_t S_t.
    Returns (o, S_T).
    """
    q, k, v, beta = _f64(q), _f64(k), _f64(v), _f64(beta)
    B, T, H, Dk = k.shape
    Dv = v.shape[-1]
    S, _ = _init_state(initial_state, False, B, H, Dk, Dv)
    o = np.zeros((B, T, H, Dv))
    for t in range(T):
        bt = beta[:, t][..., None, None]
        S = (1.0 - bt) * S + bt * _outer(k[:, t], v[:, t])
        o[:, t] = _row_times(q[:, t], S)
    return o, S


# ---------------------------------------------------------------------------
# Backward passes (hand-derived reverse-mode recurrences)
# ---------------------------------------------------------------------------

def _readout_grad(qt, S, z, dot, normalize, eps):
    """Backprop through o = q S [/ (q . z + eps)].

    Returns (dq, dS_contrib, dz_contrib); dz_contrib is None if unnormalised.
    """
    if not normalize:
        return _times_col(S, dot), _outer(qt, dot), None
    den = _dot(qt, z) + eps
    o = _row_times(qt, S) / den[..., None]
    dnum = dot / den[..., None]
    dden = -np.sum(dot * o, axis=-1) / den  # d o / d den = -o / den
    dq = _times_col(S, dnum) + dden[..., None] * z
    return dq, _outer(qt, dnum), dden[..., None] * qt


def linear_attention_grad(q, k, v, do, causal=True, normalize=False,
                          initial_state=None, d_state=None, eps=1e-6):
    """Gradients of sum(do*o) + <d_state, final_state> for linear_attention."""
    q, k, v, do = _f64(q), _f64(k), _f64(v), _f64(do)
    B, Tk, H, Dk = k.shape
    Dv = v.shape[-1]
    Tq = q.shape[1]
    S0, z0 = _init_state(initial_state, normalize, B, H, Dk, Dv)
    if z0 is None:
        z0 = np.zeros((B, H, Dk))
    gS, gz = _init_cotangent(d_state, normalize, B, H, Dk, Dv)

    # Forward pass, keeping S_t and z_t after each write.
    Ss, zs = [], []
    S, z = S0, z0
    for t in range(Tk):
        S = S + _outer(k[:, t], v[:, t])
        z = z + k[:, t]
        Ss.append(S)
        zs.append(z)

    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)

    if causal:
        assert Tq == Tk, "causal attention needs equal query/key lengths"
        for t in reversed(range(Tk)):
            # gS, gz hold dL/dS_t, dL/dz_t from steps > t; add the readout at t.
            dq[:, t], dS_c, dz_c = _readout_grad(q[:, t], Ss[t], zs[t],
                                                 do[:, t], normalize, eps)
            gS = gS + dS_c
            if normalize:
                gz = gz + dz_c
            # S_t = S_{t-1} + k^T v, z_t = z_{t-1} + k: identity to the past.
            dk[:, t] = _times_col(gS, v[:, t]) + (gz if normalize else 0.0)
            dv[:, t] = _row_times(k[:, t], gS)
    else:
        # Every query reads the same final memory.
        for i in range(Tq):
            dq[:, i], dS_c, dz_c = _readout_grad(q[:, i], Ss[-1], zs[-1],
                                                 do[:, i], normalize, eps)
            gS = gS + dS_c
            if normalize:
                gz = gz + dz_c
        for t in range(Tk):
            dk[:, t] = _times_col(gS, v[:, t]) + (gz if normalize else 0.0)
            dv[:, t] = _row_times(k[:, t], gS)

    return {"q": dq, "k": dk, "v": dv,
            "initial_state": _pack_state(gS, gz, normalize)}


def delta_rule_grad(q, k, v, beta, do, normalize=False, initial_state=None,
                    d_state=None, eps=1e-6):
    """Gradients of sum(do*o) + <d_state, final_state> for delta_rule."""
    q, k, v, beta, do = _f64(q), _f64(k), _f64(v), _f64(beta), _f64(do)
    B, T, H, Dk = k.shape
    Dv = v.shape[-1]
    S0, z0 = _init_state(initial_state, normalize, B, H, Dk, Dv)
    if z0 is None:
        z0 = np.zeros((B, H, Dk))
    gS, gz = _init_cotangent(d_state, normalize, B, H, Dk, Dv)

    # Forward pass; Ss[t] / zs[t] is the state *before* step t, Ss[T] the final.
    Ss, zs, vbars, dens = [S0], [z0], [], []
    S, z = S0, z0
    for t in range(T):
        kt = k[:, t]
        den = _dot(z, kt) + eps if normalize else np.ones((B, H))
        vbar = _row_times(kt, S) / den[..., None]
        S = S + beta[:, t][..., None, None] * _outer(kt, v[:, t] - vbar)
        if normalize:
            z = z + kt
        Ss.append(S)
        zs.append(z)
        vbars.append(vbar)
        dens.append(den)

    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    dbeta = np.zeros_like(beta)

    for t in reversed(range(T)):
        kt, vt, qt = k[:, t], v[:, t], q[:, t]
        bt = beta[:, t]
        S_prev, S_t = Ss[t], Ss[t + 1]
        z_prev, z_t = zs[t], zs[t + 1]
        vbar, den = vbars[t], dens[t]
        u = vt - vbar

        # Readout o_t from S_t (and z_t); gS/gz become dL/dS_t, dL/dz_t.
        dq[:, t], dS_c, dz_c = _readout_grad(qt, S_t, z_t, do[:, t],
                                             normalize, eps)
        gS = gS + dS_c
        if normalize:
            gz = gz + dz_c
            dk[:, t] += gz  # z_t = z_{t-1} + k_t

        # S_t = S_{t-1} + beta k^T u.
        kgS = _row_times(kt, gS)               # k gS, [B,H,Dv]
        du = bt[..., None] * kgS
        dbeta[:, t] = np.sum(kgS * u, axis=-1)
        dk[:, t] += bt[..., None] * _times_col(gS, u)
        dv[:, t] = du
        dvbar = -du

        # vbar = (k S_{t-1}) / den, den = z_{t-1} . k + eps (den = 1 if plain).
        dw = dvbar / den[..., None]
        dk[:, t] += _times_col(S_prev, dw)
        gS = gS + _outer(kt, dw)                # now dL/dS_{t-1}
        if normalize:
            dden = -np.sum(dvbar * vbar, axis=-1) / den
            dk[:, t] += dden[..., None] * z_prev
            gz = gz + dden[..., None] * kt      # now dL/dz_{t-1}

    return {"q": dq, "k": dk, "v": dv, "beta": dbeta,
            "initial_state": _pack_state(gS, gz, normalize)}


def gated_rule_grad(q, k, v, beta, do, initial_state=None, d_state=None):
    """Gradients of sum(do*o) + sum(d_state*S_T) for gated_rule."""
    q, k, v, beta, do = _f64(q), _f64(k), _f64(v), _f64(beta), _f64(do)
    B, T, H, Dk = k.shape
    Dv = v.shape[-1]
    S0, _ = _init_state(initial_state, False, B, H, Dk, Dv)
    gS, _ = _init_cotangent(d_state, False, B, H, Dk, Dv)

    Ss = [S0]  # Ss[t] is the state before step t
    S = S0
    for t in range(T):
        bt = beta[:, t][..., None, None]
        S = (1.0 - bt) * S + bt * _outer(k[:, t], v[:, t])
        Ss.append(S)

    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    dbeta = np.zeros_like(beta)
    for t in reversed(range(T)):
        kt, vt, qt = k[:, t], v[:, t], q[:, t]
        bt = beta[:, t]
        dq[:, t] = _times_col(Ss[t + 1], do[:, t])
        gS = gS + _outer(qt, do[:, t])          # dL/dS_t
        # S_t = S_{t-1} + beta (k^T v - S_{t-1})
        dbeta[:, t] = np.sum(gS * (_outer(kt, vt) - Ss[t]), axis=(-2, -1))
        dk[:, t] = bt[..., None] * _times_col(gS, vt)
        dv[:, t] = bt[..., None] * _row_times(kt, gS)
        gS = (1.0 - bt)[..., None, None] * gS   # dL/dS_{t-1}
    return {"q": dq, "k": dk, "v": dv, "beta": dbeta, "initial_state": gS}


# ---------------------------------------------------------------------------
# Feature maps and normalisations (act on the last axis)
# ---------------------------------------------------------------------------

def elu_plus_one(x):
    """elu(x) + 1 (Eq. 30): x + 1 for x > 0, exp(x) otherwise."""
    x = _f64(x)
    # exp of min(x, 0) avoids overflow warnings in the unused branch.
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def favor_plus_log(x, projection, input_scale=1.0):
    """log of the FAVOR+ positive random features (Eq. 31-32), last dim 2m.

    phi(x) = exp(-|x'|^2/2) / sqrt(2m) * [exp(x' R^T), exp(-x' R^T)], R: [m, d],
    x' = input_scale * x (1 is Eq. 31 as written; the Performer takes d^(-1/4)).
    """
    x, R = _f64(x) * input_scale, _f64(projection)
    m = R.shape[0]
    xr = x @ R.T
    shift = 0.5 * np.sum(x * x, axis=-1, keepdims=True) + 0.5 * np.log(2.0 * m)
    return np.concatenate([xr - shift, -xr - shift], axis=-1)


def favor_plus(x, projection, input_scale=1.0):
    """FAVOR+ features exp(favor_plus_log(...)): phi(x) . phi(y) estimates
    exp(input_scale^2 x . y)."""
    return np.exp(favor_plus_log(x, projection, input_scale))


def dpfp(x, nu):
    """Deterministic parameter-free projection (Eq. 37), last dim 2*nu*d.

    x' = [relu(x), relu(-x)]; phi = concat_j x' * roll(x', j), j = 1..nu
    (np.roll matches torch.roll(shifts=j) used in the authors' code).
    """
    x = _f64(x)
    xp = np.concatenate([np.maximum(x, 0.0), np.maximum(-x, 0.0)], axis=-1)
    return np.concatenate(
        [xp * np.roll(xp, j, axis=-1) for j in range(1, nu + 1)], axis=-1)


def sum_normalize(x, eps=1e-6):
    """x / max(sum(x), eps) over the last axis."""
    x = _f64(x)
    return x / np.maximum(np.sum(x, axis=-1, keepdims=True), eps)


def l2_normalize(x, eps=1e-6):
    """x / max(||x||_2, eps) over the last axis."""
    x = _f64(x)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
