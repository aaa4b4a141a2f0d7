"""The gated update rule of Peng et al. 2021, a baseline of the paper (Appendix B, Eq. 52).

    S_t = (1 - beta_t) S_{t-1} + beta_t k_t^T v_t          o_t = q_t S_t

Three forms side by side: the recurrent reference (a scan of the one-step form), the chunked form
(decayed linear attention within a chunk, a scan over chunks) and the one-step form.
"""

from keras import ops

from fwp_keras.ops import _common as common


def gated_rule(
    q,
    k,
    v,
    beta,
    *,
    initial_state=None,
    return_state=False,
    implementation="auto",
    chunk_size=common.DEFAULT_CHUNK_SIZE,
):
    """Gated fast weight memory: every write first decays the memory by `1 - beta_t`.

    Args:
        q: queries `[B, T, H, Dk]`, already passed through the feature map.
        k: keys `[B, T, H, Dk]`, already passed through the feature map.
        v: `[B, T, H, Dv]`.
        beta: gates `[B, T, H]` in [0, 1].
        initial_state: `S: [B, H, Dk, Dv]`, zeros by default.
        return_state: also return the final state.
        implementation: `"recurrent"`, `"chunked"` or `"auto"`.
        chunk_size: rows per chunk of the chunked form.

    Returns:
        `o: [B, T, H, Dv]` in the dtype of `q`, and the final state when `return_state=True`.
    """
    x = common.prepare(q, k, v, beta, initial_state, normalize=False,
                       implementation=implementation, chunk_size=chunk_size, eps=0.0,
                       return_state=return_state, has_op=False, has_beta=True)
    if common.is_empty_sequence(x.k):
        o, state = common.empty_sequence_result(x)
    elif implementation == "recurrent":
        o, state = _recurrent(x.q, x.k, x.v, x.beta, x.state)
    else:
        o, state = common.run_causally(
            lambda q, k, v, beta, state: _chunked(q, k, v, beta, state, x.chunk_size),
            x.q, x.k, x.v, x.beta, x.state,
        )
    o = ops.cast(o, x.out_dtype)
    return (o, state) if x.return_state else o


def gated_rule_step(q, k, v, beta, state):
    """One decoding step: `q, k: [B, H, Dk]`, `v: [B, H, Dv]`, `beta: [B, H]`.

    Returns `(o: [B, H, Dv], new_state)`; the state keeps its dtype, `o` has the dtype of `q`.
    """
    q, k, v, beta, state, out_dtype = common.prepare_step(
        q, k, v, beta, state, normalize=False, eps=0.0, has_beta=True
    )
    gate = beta[..., None, None]
    s = (1 - gate) * state + gate * ops.einsum("bhk,bhv->bhkv", k, v)
    return ops.cast(ops.einsum("bhk,bhkv->bhv", q, s), out_dtype), s


def _recurrent(q, k, v, beta, state):
    def step(carry, inputs):
        o, carry = gated_rule_step(*inputs, carry)
        return carry, o

    state, o = common.scan(step, state, common.time_major(q, k, v, beta))
    return ops.moveaxis(o, 0, 1), state


def _chunked(q, k, v, beta, state, chunk_size):
    dtype = ops.dtype(q)
    length = ops.shape(q)[1]
    qc, kc, vc = (common.to_chunks(x, chunk_size) for x in (q, k, v))  # [B, H, N, C, D]
    bc = common.to_chunks(beta, chunk_size)  # [B, H, N, C]
    keep = 1 - bc

    # decay[t, s] = prod_{s < r <= t} (1 - beta_r), by products, not in log space: a gate of
    # exactly 1 (a saturated sigmoid) erases the memory, and its gradient stays exact.
    lower = ops.cast(common.causal_mask(chunk_size, dtype), "bool")
    strictly_lower = ops.cast(common.causal_mask(chunk_size, dtype, diagonal=False), "bool")
    factors = ops.where(strictly_lower, ops.expand_dims(keep, -1), 1.0)
    decay = ops.where(lower, common.cumprod(factors, axis=-2), 0.0)  # [B, H, N, C, C]
    from_start = common.cumprod(keep, axis=-1)  # prod_{r <= t} (1 - beta_r)
    to_end = decay[..., -1, :]  # prod_{s < r <= C-1} (1 - beta_r)

    writes = kc * (bc * to_end)[..., None]
    chunk_writes = ops.einsum("bhnck,bhncv->bhnkv", writes, vc)
    chunk_keep = from_start[..., -1]  # [B, H, N]

    def chunk_step(s, inputs):
        keep_n, writes_n = inputs
        return keep_n[..., None, None] * s + writes_n, s

    s_final, s_before = common.scan(
        chunk_step, state, (ops.moveaxis(chunk_keep, 2, 0), ops.moveaxis(chunk_writes, 2, 0))
    )
    s_before = ops.moveaxis(s_before, 0, 2)
    scores = ops.einsum("bhnck,bhnsk->bhncs", qc, kc) * decay
    o = from_start[..., None] * ops.einsum("bhnck,bhnkv->bhncv", qc, s_before) + ops.einsum(
        "bhncs,bhnsv->bhncv", scores, vc * bc[..., None]
    )
    return common.from_chunks(o, length), s_final
