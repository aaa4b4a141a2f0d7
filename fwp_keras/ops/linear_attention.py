"""The sum update rule (paper Eq. 17-19): linear attention as a fast weight programmer.

    S_t = S_{t-1} + k_t^T v_t            z_t = z_{t-1} + k_t
    o_t = q_t S_t        or, with attention normalisation,   o_t = q_t S_t / (q_t . z_t + eps)

Three forms of one function, side by side: the recurrent reference (a scan over time of the
one-step form), the chunked form (DESIGN Section 4) and the one-step form for decoding.
"""

from keras import ops

from fwp_keras import _validation as validation
from fwp_keras.ops import _common as common


def linear_attention(
    q,
    k,
    v,
    *,
    causal=True,
    normalize=False,
    initial_state=None,
    return_state=False,
    implementation="auto",
    chunk_size=common.DEFAULT_CHUNK_SIZE,
    eps=1e-6,
):
    """Sum-rule fast weight memory (linear attention).

    Args:
        q: queries `[B, Tq, H, Dk]`, already passed through the feature map.
        k: keys `[B, T, H, Dk]`, already passed through the feature map.
        v: values `[B, T, H, Dv]`.
        causal: `True` for the autoregressive (decoder) form, `False` for the bidirectional
            (encoder) form, in which `k, v` may be another sequence (cross-attention) of a
            different length than `q`.
        normalize: apply the attention normaliser `z` (Eq. 19); the state is then `(S, z)`.
        initial_state: `S: [B, H, Dk, Dv]`, or `(S, z)` with `z: [B, H, Dk]` when
            `normalize=True`. Defaults to zeros.
        return_state: also return the final state.
        implementation: `"recurrent"`, `"chunked"`, `"op"` (the TensorFlow custom op) or
            `"auto"`: the op on the TensorFlow backend when it loads (outside XLA), else the
            chunked form. The bidirectional form is two matrix products on every implementation.
        chunk_size: rows per chunk of the chunked form (the op tiles time its own way).
        eps: added to the attention normaliser's denominator, a finite number >= 0.

    Returns:
        `o: [B, Tq, H, Dv]` in the dtype of `q` (floatx for integer `q`), and the final state
        (float32, or float64 for float64 inputs) when `return_state=True`.
    """
    causal = validation.boolean("causal", causal)
    x = common.prepare(q, k, v, None, initial_state, normalize=normalize,
                       implementation=implementation, chunk_size=chunk_size, eps=eps,
                       return_state=return_state, same_length=causal)
    normalize = x.normalize
    op_forms = common.custom_op_forms(implementation, x.q, x.k, x.v) if causal else None
    if not causal:
        o, state = _bidirectional(x.q, x.k, x.v, x.state, normalize, x.eps)
    elif common.is_empty_sequence(x.k):
        o, state = common.empty_sequence_result(x)
    elif implementation == "recurrent":
        o, state = _recurrent(x.q, x.k, x.v, x.state, normalize, x.eps)
    else:
        def program(q, k, v, _, state):
            if op_forms is not None:
                return op_forms.linear_attention(q, k, v, state, normalize=normalize, eps=x.eps)
            return _chunked(q, k, v, state, normalize, x.eps, x.chunk_size)

        o, state = common.run_causally(program, x.q, x.k, x.v, None, x.state, op_forms)
    o = ops.cast(o, x.out_dtype)
    return (o, state) if x.return_state else o


def linear_attention_step(q, k, v, state, *, normalize=False, eps=1e-6):
    """One decoding step: `q, k: [B, H, Dk]`, `v: [B, H, Dv]`, state as in `linear_attention`.

    Returns `(o: [B, H, Dv], new_state)`; constant work per token whatever the context length.
    The state keeps its dtype (float32 under mixed precision); `o` has the dtype of `q`.
    """
    q, k, v, _, state, out_dtype = common.prepare_step(q, k, v, None, state,
                                                       normalize=normalize, eps=eps)
    if normalize:
        s, z = state
        z = z + k
    else:
        s = state
    s = s + ops.einsum("bhk,bhv->bhkv", k, v)
    o = ops.einsum("bhk,bhkv->bhv", q, s)
    if normalize:
        o = o / (ops.sum(q * z, axis=-1, keepdims=True) + eps)
        return ops.cast(o, out_dtype), (s, z)
    return ops.cast(o, out_dtype), s


def linear_attention_memory(k, v, *, normalize=False, initial_state=None):
    """The memory a whole sequence writes, for queries to read later (cross-attention's cache):
    `S = S_0 + sum_t k_t^T v_t` (and `z = z_0 + sum_t k_t` with `normalize=True`), computed once;
    the same size, `[B, H, Dk, Dv]`, whatever the length of `k, v: [B, T, H, D]`.
    `linear_attention_read` reads it; together they are `linear_attention(causal=False)`."""
    x = common.prepare(k, k, v, None, initial_state, normalize=normalize, implementation="auto",
                       chunk_size=common.DEFAULT_CHUNK_SIZE, eps=0.0, return_state=True)
    s0, z0 = x.state if x.normalize else (x.state, None)
    s = s0 + ops.einsum("bthk,bthv->bhkv", x.k, x.v)
    return (s, z0 + ops.sum(x.k, axis=1)) if x.normalize else s


def linear_attention_read(q, state, *, normalize=False, eps=1e-6):
    """Reads a memory without writing to it: `o = q S`, or `q S / (q . z + eps)` with
    `normalize=True`, for queries `q: [B, Tq, H, Dk]`; `o: [B, Tq, H, Dv]` in the dtype of `q`."""
    eps = common.check_eps(eps)
    normalize = validation.boolean("normalize", normalize)
    q = common.as_tensor("q", q)
    if len(q.shape) != 4:
        raise ValueError("`q` must have rank 4, [batch, time, heads, Dk]. "
                         f"Received: q.shape={tuple(q.shape)}")
    if state is None:
        raise ValueError("`state` is required: the memory to read, S [batch, heads, Dk, Dv] "
                         "(or (S, z) with normalize=True), e.g. from linear_attention_memory.")
    state = common.state_as_tensors(state, normalize, "state")
    s = state[0] if isinstance(state, tuple) else state
    batch, _, heads, dk = q.shape
    common.check_state(state, batch, heads, dk, s.shape[-1], normalize, name="state")
    out_dtype = common.output_dtype(q)
    (q,) = common.cast_to_state(state, q)
    o = ops.einsum("bthk,bhkv->bthv", q, s)
    if normalize:
        o = o / (ops.einsum("bthk,bhk->bth", q, state[1])[..., None] + eps)
    return ops.cast(o, out_dtype)


def _recurrent(q, k, v, state, normalize, eps):
    def step(carry, inputs):
        o, carry = linear_attention_step(*inputs, carry, normalize=normalize, eps=eps)
        return carry, o

    state, o = common.scan(step, state, common.time_major(q, k, v))
    return ops.moveaxis(o, 0, 1), state


def _chunked(q, k, v, state, normalize, eps, chunk_size):
    s0, z0 = state if normalize else (state, None)
    length = ops.shape(q)[1]
    qc, kc, vc = (common.to_chunks(x, chunk_size) for x in (q, k, v))  # [B, H, N, C, D]

    # State entering each chunk: S0 plus the writes of all earlier chunks (exclusive prefix sum).
    writes = ops.einsum("bhnck,bhncv->bhnkv", kc, vc)
    s_before = common.exclusive_chunk_cumsum(writes, s0)
    scores = ops.einsum("bhnck,bhnsk->bhncs", qc, kc) * common.causal_mask(chunk_size, ops.dtype(q))
    o = ops.einsum("bhnck,bhnkv->bhncv", qc, s_before) + ops.einsum(
        "bhncs,bhnsv->bhncv", scores, vc
    )
    s_final = s0 + ops.sum(writes, axis=2)
    if not normalize:
        return common.from_chunks(o, length), s_final

    key_sums = ops.sum(kc, axis=3)  # [B, H, N, Dk]
    z_before = common.exclusive_chunk_cumsum(key_sums, z0)
    denominator = ops.einsum("bhnck,bhnk->bhnc", qc, z_before) + ops.sum(scores, axis=-1)
    o = o / (denominator[..., None] + eps)
    return common.from_chunks(o, length), (s_final, z0 + ops.sum(key_sums, axis=2))


def _bidirectional(q, k, v, state, normalize, eps):
    state = linear_attention_memory(k, v, normalize=normalize, initial_state=state)
    return linear_attention_read(q, state, normalize=normalize, eps=eps), state
