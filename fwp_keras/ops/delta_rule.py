"""The delta update rule (paper Eq. 20-25, attention-normalised variant Eq. 26-28).

    vbar_t = k_t S_{t-1}                  [normalised: k_t S_{t-1} / (z_{t-1} . k_t + eps)]
    S_t    = S_{t-1} + beta_t k_t^T (v_t - vbar_t)
    o_t    = q_t S_t                      [normalised: q_t S_t / (z_t . q_t + eps), z_t = z_{t-1} + k_t]

Three forms side by side: the recurrent reference (a scan of the one-step form), the chunked
WY/UT form (DESIGN Section 4; Yang et al. 2024) and the one-step form for decoding.

The chunked form writes every step as `S_t = S_{t-1} - a_t k_t^T (k_t S_{t-1}) + beta_t k_t^T v_t`
with erase strength `a_t = beta_t` (plain) or `a_t = beta_t / (z_{t-1} . k_t + eps)` (normalised:
`z` does not depend on `S`, so `a` is known before the chunk runs). Within a chunk starting at S0,
`S_t = S0 + sum_{s<=t} k_s^T u_s` with `(I + tril(diag(a) K K^T, -1)) U = diag(beta) V - diag(a) K S0`,
so one triangular solve per chunk gives `W` and `U` with `u = U - W S0`; only the state pass over
chunks is sequential.
"""

from keras import ops

from fwp_keras.ops import _common as common


def delta_rule(
    q,
    k,
    v,
    beta,
    *,
    normalize=False,
    initial_state=None,
    return_state=False,
    implementation="auto",
    chunk_size=common.DEFAULT_CHUNK_SIZE,
    eps=1e-6,
):
    """Delta-rule fast weight memory.

    Args:
        q: queries `[B, T, H, Dk]`, already passed through the feature map and normalised.
        k: keys `[B, T, H, Dk]`; the rule is stable only with normalised keys (sum or L2): an
            erase strength `beta |k|^2 > 2` amplifies the memory at every step, so raw keys make
            it grow geometrically (with raw Gaussian keys of Dk = 16 the outputs pass float32's
            largest number within a few hundred steps: t = 172 for seed 0). Nothing here checks
            the keys; `FastWeightAttention` warns when its normalisation is None.
        v: values `[B, T, H, Dv]`.
        beta: write strengths `[B, T, H]`, in (0, 1) (a sigmoid of the input).
        normalize: the attention-normalised variant (Eq. 26-28); the state is then `(S, z)`.
        initial_state: `S: [B, H, Dk, Dv]`, or `(S, z)` with `z: [B, H, Dk]` when
            `normalize=True`. Defaults to zeros.
        return_state: also return the final state.
        implementation: `"recurrent"`, `"chunked"`, `"op"` (the TensorFlow custom op) or
            `"auto"`: the op on the TensorFlow backend when it loads (outside XLA), else the
            chunked form.
        chunk_size: rows per chunk of the chunked form (the op tiles time its own way).
        eps: added to the normalisers' denominators, a finite number >= 0.

    Returns:
        `o: [B, T, H, Dv]` in the dtype of `q`, and the final state when `return_state=True`.
    """
    x = common.prepare(q, k, v, beta, initial_state, normalize=normalize,
                       implementation=implementation, chunk_size=chunk_size, eps=eps,
                       return_state=return_state, has_beta=True)
    normalize = x.normalize
    op_forms = common.custom_op_forms(implementation, x.q, x.k, x.v, x.beta)
    if common.is_empty_sequence(x.k):
        o, state = common.empty_sequence_result(x)
    elif implementation == "recurrent":
        o, state = _recurrent(x.q, x.k, x.v, x.beta, x.state, normalize, x.eps)
    else:
        def program(q, k, v, beta, state):
            if op_forms is not None:
                return op_forms.delta_rule(q, k, v, beta, state, normalize=normalize, eps=x.eps)
            return _chunked(q, k, v, beta, state, normalize, x.eps, x.chunk_size)

        o, state = common.run_causally(program, x.q, x.k, x.v, x.beta, x.state, op_forms)
    o = ops.cast(o, x.out_dtype)
    return (o, state) if x.return_state else o


def delta_rule_step(q, k, v, beta, state, *, normalize=False, eps=1e-6):
    """One decoding step: `q, k: [B, H, Dk]`, `v: [B, H, Dv]`, `beta: [B, H]`.

    Returns `(o: [B, H, Dv], new_state)`; the state keeps its dtype, `o` has the dtype of `q`.
    """
    q, k, v, beta, state, out_dtype = common.prepare_step(
        q, k, v, beta, state, normalize=normalize, eps=eps, has_beta=True
    )
    if normalize:
        s, z = state
        retrieved = ops.einsum("bhk,bhkv->bhv", k, s) / (
            ops.sum(z * k, axis=-1, keepdims=True) + eps
        )
        z = z + k
    else:
        s = state
        retrieved = ops.einsum("bhk,bhkv->bhv", k, s)
    s = s + ops.einsum("bhk,bhv->bhkv", k * beta[..., None], v - retrieved)
    o = ops.einsum("bhk,bhkv->bhv", q, s)
    if normalize:
        o = o / (ops.sum(q * z, axis=-1, keepdims=True) + eps)
        return ops.cast(o, out_dtype), (s, z)
    return ops.cast(o, out_dtype), s


def _recurrent(q, k, v, beta, state, normalize, eps):
    def step(carry, inputs):
        o, carry = delta_rule_step(*inputs, carry, normalize=normalize, eps=eps)
        return carry, o

    state, o = common.scan(step, state, common.time_major(q, k, v, beta))
    return ops.moveaxis(o, 0, 1), state


def _chunked(q, k, v, beta, state, normalize, eps, chunk_size):
    s0, z0 = state if normalize else (state, None)
    dtype = ops.dtype(q)
    length = ops.shape(q)[1]
    qc, kc, vc = (common.to_chunks(x, chunk_size) for x in (q, k, v))  # [B, H, N, C, D]
    bc = common.to_chunks(beta, chunk_size)[..., None]  # [B, H, N, C, 1]

    key_grams = ops.einsum("bhnck,bhnsk->bhncs", kc, kc)
    strictly_lower = common.causal_mask(chunk_size, dtype, diagonal=False)
    if normalize:
        # z_{t-1} . k_t: the normaliser before step t, from earlier chunks and earlier rows.
        key_sums = ops.sum(kc, axis=3)
        z_before = common.exclusive_chunk_cumsum(key_sums, z0)
        before = ops.einsum("bhnck,bhnk->bhnc", kc, z_before)
        before = before + ops.sum(key_grams * strictly_lower, axis=-1)
        erase = bc / (before[..., None] + eps)
    else:
        erase = bc
    lower = erase * key_grams * strictly_lower
    solved = common.solve_unit_lower(lower, ops.concatenate([erase * kc, bc * vc], axis=-1))
    dk = ops.shape(kc)[-1]
    w, u = solved[..., :dk], solved[..., dk:]

    # The only sequential part: the state entering each chunk and the corrected writes u.
    def chunk_step(s, inputs):
        w_n, u_n, k_n = inputs
        u_n = u_n - ops.einsum("bhck,bhkv->bhcv", w_n, s)
        return s + ops.einsum("bhck,bhcv->bhkv", k_n, u_n), (s, u_n)

    s_final, (s_before, u) = common.scan(
        chunk_step, s0, tuple(ops.moveaxis(x, 2, 0) for x in (w, u, kc))
    )
    s_before, u = ops.moveaxis(s_before, 0, 2), ops.moveaxis(u, 0, 2)
    scores = ops.einsum("bhnck,bhnsk->bhncs", qc, kc) * common.causal_mask(chunk_size, dtype)
    o = ops.einsum("bhnck,bhnkv->bhncv", qc, s_before) + ops.einsum(
        "bhncs,bhnsv->bhncv", scores, u
    )
    if not normalize:
        return common.from_chunks(o, length), s_final

    denominator = ops.einsum("bhnck,bhnk->bhnc", qc, z_before) + ops.sum(scores, axis=-1)
    o = o / (denominator[..., None] + eps)
    return common.from_chunks(o, length), (s_final, z0 + ops.sum(key_sums, axis=2))

