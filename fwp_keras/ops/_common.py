"""Shared plumbing of the memory programs: argument checks, dtypes and chunking.

Layout (DESIGN Section 2): q, k `[B, T, H, Dk]`, v `[B, T, H, Dv]`, beta `[B, T, H]`,
state S `[B, H, Dk, Dv]`, attention normaliser z `[B, H, Dk]`.
"""

import operator

import keras
from keras import ops

IMPLEMENTATIONS = ("auto", "recurrent", "chunked", "op")
DEFAULT_CHUNK_SIZE = 64


def _dims(x):
    return tuple(x.shape)


def _same(a, b):
    return a is None or b is None or a == b


def check_implementation(implementation, chunk_size, has_op=True):
    allowed = IMPLEMENTATIONS if has_op else tuple(i for i in IMPLEMENTATIONS if i != "op")
    if implementation not in allowed:
        raise ValueError(
            f"`implementation` must be one of {allowed}. "
            f"Received: implementation={implementation!r}"
        )
    if isinstance(chunk_size, bool) or not _is_integer(chunk_size) or chunk_size < 1:
        raise ValueError(
            f"`chunk_size` must be a positive integer. Received: chunk_size={chunk_size!r}"
        )


def custom_op_forms(implementation, *tensors):
    """`fwp_keras.tf_ops.memory_ops` when this call runs on the TensorFlow custom ops, else None.

    `"op"` requires them (a clear error when they cannot be used); `"auto"` takes them on the
    TensorFlow backend when they load, for real (not symbolic Keras) tensors.
    """
    if implementation == "op":
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "`implementation='op'` runs the TensorFlow custom ops and needs the TensorFlow "
                f"backend. Received: backend {keras.backend.backend()!r}"
            )
        from fwp_keras import tf_ops

        tf_ops.load_custom_ops()  # raises, saying why, when the ops cannot be used
    elif implementation != "auto" or not custom_ops_usable():
        return None
    if any(isinstance(x, keras.KerasTensor) for x in tensors):
        return None
    from fwp_keras.tf_ops import memory_ops

    return memory_ops


def custom_ops_usable():
    """True on the TensorFlow backend when the custom ops are loaded (or load now)."""
    if keras.backend.backend() != "tensorflow":
        return False
    from fwp_keras import tf_ops

    return tf_ops.custom_ops() is not None


def _is_integer(x):
    try:
        operator.index(x)
    except TypeError:
        return False
    return True


def check_inputs(q, k, v, beta=None, same_length=True):
    """Checks ranks and matching dimensions; returns (B, H, Dk, Dv) as far as known."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if len(_dims(x)) != 4:
            raise ValueError(
                f"`{name}` must have rank 4, [batch, time, heads, dim]. "
                f"Received: {name}.shape={_dims(x)}"
            )
    qb, qt, qh, qd = _dims(q)
    kb, kt, kh, kd = _dims(k)
    vb, vt, vh, vd = _dims(v)
    if not (_same(qb, kb) and _same(qb, vb)):
        raise ValueError(
            "`q`, `k` and `v` must have the same batch size. Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if not (_same(qh, kh) and _same(qh, vh)):
        raise ValueError(
            "`q`, `k` and `v` must have the same number of heads (axis 2). Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if not _same(qd, kd):
        raise ValueError(
            "`q` and `k` must have the same feature dimension Dk (axis 3). Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}"
        )
    if not _same(kt, vt) or (same_length and not _same(qt, kt)):
        what = "`q`, `k` and `v`" if same_length else "`k` and `v`"
        raise ValueError(
            f"{what} must have the same length (axis 1). Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if beta is not None:
        expected = (kb, kt, kh)
        got = _dims(beta)
        if len(got) != 3 or not all(_same(a, b) for a, b in zip(got, expected)):
            raise ValueError(
                f"`beta` must have shape [batch, time, heads] = {expected}. "
                f"Received: beta.shape={got}"
            )
    return qb or kb, qh or kh, qd or kd, vd


def check_state(initial_state, batch, heads, dk, dv, normalize):
    """Checks `initial_state` against `S: [B, H, Dk, Dv]` (and `z: [B, H, Dk]`)."""
    if initial_state is None:
        return
    expected_s = (batch, heads, dk, dv)
    if normalize:
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise ValueError(
                "With `normalize=True` the state is the tuple (S, z) with "
                f"S: {expected_s} and z: {expected_s[:3]}. "
                f"Received: initial_state of type {type(initial_state).__name__}"
            )
        pairs = (("initial_state[0] (S)", initial_state[0], expected_s),
                 ("initial_state[1] (z)", initial_state[1], expected_s[:3]))
    else:
        if isinstance(initial_state, (tuple, list)):
            raise ValueError(
                "Without attention normalisation (normalize=False) `initial_state` is one "
                f"tensor S: {expected_s}. Received: initial_state as a "
                f"{type(initial_state).__name__} of {len(initial_state)} items"
            )
        pairs = (("initial_state", initial_state, expected_s),)
    for name, x, expected in pairs:
        got = _dims(x)
        if len(got) != len(expected) or not all(_same(a, b) for a, b in zip(got, expected)):
            raise ValueError(
                f"`{name}` must have shape {expected} ([batch, heads, Dk, Dv][:rank]). "
                f"Received: shape {got}"
            )


def compute_dtype(x):
    """float64 stays float64 (gradient checks); everything else accumulates in float32."""
    return "float64" if ops.dtype(x) == "float64" else "float32"


def cast_all(dtype, *xs):
    return tuple(None if x is None else ops.cast(x, dtype) for x in xs)


def cast_to_state(state, *xs):
    """Casts step inputs to the state's dtype (float32 under mixed precision)."""
    s = state[0] if isinstance(state, (tuple, list)) else state
    return cast_all(ops.dtype(s), *xs)


def zeros_state(k, v, normalize, dtype):
    shape_k, shape_v = ops.shape(k), ops.shape(v)
    s = ops.zeros((shape_k[0], shape_k[2], shape_k[3], shape_v[3]), dtype)
    if normalize:
        return s, ops.zeros((shape_k[0], shape_k[2], shape_k[3]), dtype)
    return s


def cast_state(state, dtype):
    if isinstance(state, (tuple, list)):
        return tuple(ops.cast(s, dtype) for s in state)
    return ops.cast(state, dtype)


def heads_first(x):
    """[B, T, H, ...] -> [B, H, T, ...]."""
    return ops.swapaxes(x, 1, 2)


def to_chunks(x, chunk_size):
    """[B, T, H, D] (or [B, T, H]) -> [B, H, N, C, D] (or [B, H, N, C]), zero-padded.

    Zero-padded rows (k = v = beta = 0) are identity transitions of every update rule.
    """
    length = ops.shape(x)[1]
    pad = (-length) % chunk_size
    x = ops.pad(x, [[0, 0], [0, pad]] + [[0, 0]] * (len(x.shape) - 2))
    x = heads_first(x)
    shape = ops.shape(x)
    return ops.reshape(x, (shape[0], shape[1], -1, chunk_size) + tuple(shape[3:]))


def from_chunks(x, length):
    """[B, H, N, C, D] -> [B, T, H, D], dropping the padding."""
    shape = ops.shape(x)
    x = ops.reshape(x, (shape[0], shape[1], -1, shape[4]))
    return heads_first(x)[:, :length]


def causal_mask(chunk_size, dtype, diagonal=True):
    """Lower-triangular [C, C] mask, with (diagonal=True) or without the diagonal."""
    mask = ops.tril(ops.ones((chunk_size, chunk_size), dtype), 0 if diagonal else -1)
    return mask


def time_major(*xs):
    """[B, T, ...] -> [T, B, ...] for scanning over time."""
    return tuple(None if x is None else ops.moveaxis(x, 1, 0) for x in xs)


def exclusive_chunk_cumsum(per_chunk, initial):
    """`initial + sum_{m < n} per_chunk[:, :, m]` for every chunk n (axis 2)."""
    shifted = ops.concatenate(
        [ops.zeros_like(per_chunk[:, :, :1]), cumsum(per_chunk, axis=2)[:, :, :-1]], axis=2
    )
    return ops.expand_dims(initial, 2) + shifted


def scan(f, init, xs):
    """`keras.ops.scan(f, init, xs)`, with a TensorFlow loop of its own.

    Keras' TensorFlow `scan` requires the per-step outputs to have the carry's shapes (keras 3.15),
    which a memory program's outputs do not, so there it is a `tf.while_loop` over TensorArrays.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.scan(f, init, xs)
    import tensorflow as tf

    xs_flat = [tf.convert_to_tensor(x) for x in keras.tree.flatten(xs)]
    length = tf.shape(xs_flat[0])[0]
    xs_arrays = [tf.TensorArray(x.dtype, size=length).unstack(x) for x in xs_flat]

    def read(i):
        return keras.tree.pack_sequence_as(xs, [a.read(i) for a in xs_arrays])

    # The structure, dtypes and shapes of the outputs, from tracing one step on abstract inputs.
    ys_spec = tf.function(lambda c, x: f(c, x)[1]).get_concrete_function(
        tf.nest.map_structure(tf.TensorSpec.from_tensor, init),
        keras.tree.pack_sequence_as(
            xs, [tf.TensorSpec(x.shape[1:], x.dtype) for x in xs_flat]
        ),
    ).structured_outputs

    def body(i, carry, ys_arrays):
        carry, ys = f(carry, read(i))
        ys_arrays = [a.write(i, y) for a, y in zip(ys_arrays, keras.tree.flatten(ys))]
        return i + 1, carry, ys_arrays

    ys_arrays = [
        tf.TensorArray(y.dtype, size=length, element_shape=y.shape)
        for y in keras.tree.flatten(ys_spec)
    ]
    _, carry, ys_arrays = tf.while_loop(
        lambda i, *_: i < length, body, (tf.constant(0), init, ys_arrays)
    )
    return carry, keras.tree.pack_sequence_as(ys_spec, [a.stack() for a in ys_arrays])


def cumsum(x, axis):
    """`keras.ops.cumsum`, in the input's own dtype.

    keras 3.15 runs torch's (and JAX's) cumulative sums in float32 even for float64 inputs.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return torch.cumsum(x, dim=axis)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.cumsum(x, axis=axis)
    return ops.cumsum(x, axis=axis)


def cumprod(x, axis):
    """Inclusive cumulative product along `axis` (of static length), by products alone.

    A Hillis-Steele scan: log2(n) shifted multiplications. Unlike `keras.ops.cumprod`, whose
    TensorFlow gradient divides by `x`, its gradient is exact where a factor is 0.
    """
    x = ops.moveaxis(x, axis, -1)
    n = x.shape[-1]
    step = 1
    while step < n:
        x = x * ops.concatenate([ops.ones_like(x[..., :step]), x[..., :-step]], axis=-1)
        step *= 2
    return ops.moveaxis(x, -1, axis)


def solve_unit_lower(lower, rhs):
    """`(I + lower)^{-1} rhs` for strictly lower-triangular `lower: [..., C, C]`.

    A triangular solve, except with JAX on the CPU: jaxlib's LAPACK solve waits on its own
    intra-op thread pool and deadlocks when two run at once on a small pool (seen at 2 cores);
    there the inverse is built by blocks instead.
    """
    if keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() == "cpu":
            return _matmul(unit_lower_inverse(lower), rhs)
    size = lower.shape[-1]
    return ops.solve_triangular(ops.eye(size, dtype=ops.dtype(lower)) + lower, rhs, lower=True)


def unit_lower_inverse(lower):
    """`(I + lower)^{-1}` by doubling: diagonal blocks of size b are inverted, pairs merged with
    `[[A, 0], [B, D]]^{-1} = [[A^-1, 0], [-D^-1 B A^-1, D^-1]]`, b = 1, 2, 4, ... (log2 C steps of
    batched matrix products; exact up to rounding, like a triangular solve)."""
    size = lower.shape[-1]
    padded = 1 << max(size - 1, 0).bit_length()
    if padded != size:  # zero rows and columns: the identity, inverted alone
        pad = [[0, 0]] * (len(lower.shape) - 2) + [[0, padded - size]] * 2
        lower = ops.pad(lower, pad)
    batch = tuple(ops.shape(lower)[:-2])
    dtype = ops.dtype(lower)
    inverse = ops.ones(batch + (padded, 1, 1), dtype)  # the 1 x 1 diagonal blocks
    block = 1
    while block < padded:
        pairs = padded // (2 * block)
        inverse = ops.reshape(inverse, batch + (pairs, 2, block, block))
        upper_inv, lower_inv = inverse[..., 0, :, :], inverse[..., 1, :, :]
        # The block below the diagonal of each pair: rows (2p+1)b.., columns 2p b..
        tiles = ops.reshape(lower, batch + (pairs, 2, block, pairs, 2, block))[..., 1, :, :, 0, :]
        coupling = ops.einsum("...pbqc,pq->...pbc", tiles, ops.eye(pairs, dtype=dtype))
        corner = -_matmul(lower_inv, _matmul(coupling, upper_inv))
        zeros = ops.zeros_like(upper_inv)
        inverse = ops.concatenate(
            [
                ops.concatenate([upper_inv, zeros], axis=-1),
                ops.concatenate([corner, lower_inv], axis=-1),
            ],
            axis=-2,
        )
        block *= 2
    return ops.reshape(inverse, batch + (padded, padded))[..., :size, :size]


def _matmul(a, b):
    # einsum, not `ops.matmul`, which keras 3.15 computes in float32 on torch for float64 inputs.
    return ops.einsum("...ij,...jk->...ik", a, b)
