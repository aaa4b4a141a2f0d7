"""Shared plumbing of the memory programs: argument checks, dtypes and chunking.

Layout (DESIGN Section 2): q, k `[B, T, H, Dk]`, v `[B, T, H, Dv]`, beta `[B, T, H]`,
state S `[B, H, Dk, Dv]`, attention normaliser z `[B, H, Dk]`.
"""

import collections

import numpy as np

import keras
from keras import ops

from fwp_keras import _validation as validation

IMPLEMENTATIONS = ("auto", "recurrent", "chunked", "op")
DEFAULT_CHUNK_SIZE = 64


def _dims(x):
    return tuple(x.shape)


def _same(a, b):
    return a is None or b is None or a == b


def check_implementation(implementation, chunk_size, has_op=True):
    """Validates `implementation` (for a rule with or without a custom op, on this backend) and
    returns `chunk_size` as an int."""
    allowed = IMPLEMENTATIONS if has_op else tuple(i for i in IMPLEMENTATIONS if i != "op")
    validation.one_of("implementation", implementation, allowed)
    if implementation == "op" and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`implementation='op'` runs the TensorFlow custom ops and needs the TensorFlow "
            f"backend. Received: backend {keras.backend.backend()!r}"
        )
    return validation.positive_integer("chunk_size", chunk_size)


def custom_op_forms(implementation, *tensors):
    """`fwp_keras.tf_ops.memory_ops` when this call runs on the TensorFlow custom ops, else None.

    `"op"` requires them (a clear error when they cannot be used); `"auto"` takes them on the
    TensorFlow backend when they load, for real (not symbolic Keras) tensors, outside XLA (the ops
    have no XLA kernels: under `jit_compile=True` "auto" is the chunked form).
    """
    if implementation == "op":  # check_implementation has seen the backend
        if in_xla_context():
            raise ValueError(
                "`implementation='op'` cannot run under XLA (`jit_compile=True`): the TensorFlow "
                "custom ops have no XLA kernels. Use implementation='auto' or 'chunked' there."
            )
        from fwp_keras import tf_ops

        tf_ops.load_custom_ops()  # raises, saying why, when the ops cannot be used
    elif implementation != "auto" or in_xla_context() or not custom_ops_usable():
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


def in_xla_context():
    """True while TensorFlow traces a function for XLA (`tf.function(jit_compile=True)`, Keras'
    `jit_compile=True`); TensorFlow has no public query for it."""
    if keras.backend.backend() != "tensorflow":
        return False
    from tensorflow.python.framework import ops as tf_framework
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf_framework.get_default_graph())


def check_eps(eps):
    return validation.non_negative_number("eps", eps)


def as_tensor(name, x):
    """Anything `keras.ops` accepts (arrays, lists, variables) as a backend tensor; symbolic
    Keras tensors and None pass through."""
    if x is None or isinstance(x, keras.KerasTensor):
        return x
    _check_real(name, x)
    try:
        x = ops.convert_to_tensor(x)
        if keras.backend.backend() == "tensorflow" and not hasattr(x, "ndim"):
            import tensorflow as tf  # keras 3.15 returns a tf.Variable as it is: read it

            x = tf.convert_to_tensor(x)
        return x
    except Exception as error:  # the backends raise TypeError or ValueError
        raise ValueError(
            f"`{name}` must be a tensor or an array-like. Received: {name} of type "
            f"{type(x).__name__} ({error})"
        ) from error


def state_as_tensors(state, normalize, name):
    """A state as tensors: `(S, z)` item by item; a single S from anything array-like (a nested
    Python list included, which is told from an `(S, z)` pair by its items' having no shape)."""
    if state is None:
        return None
    is_pair = isinstance(state, tuple) or (
        isinstance(state, list) and any(hasattr(item, "shape") for item in state)
    )
    if is_pair or normalize:
        if not isinstance(state, (tuple, list)):
            return as_tensor(name, state)  # check_state says what is expected
        return tuple(as_tensor(f"{name}[{i}]", s) for i, s in enumerate(state))
    return as_tensor(name, state)


def dims_match(got, expected):
    """Same rank, and every dimension equal where both are known."""
    return len(got) == len(expected) and all(_same(a, b) for a, b in zip(got, expected))


def _check_real(name, x):
    """A memory program computes on real numbers: strings, complex numbers and objects are a
    ValueError naming the argument, not an error deep inside a backend."""
    if x is None:
        return
    dtype = getattr(x, "dtype", None)
    try:
        dtype = keras.backend.standardize_dtype(dtype if dtype is not None
                                                else np.asarray(x).dtype)
    except (TypeError, ValueError):  # strings, objects: no Keras dtype
        dtype = str(dtype if dtype is not None else np.asarray(x).dtype)
    if not (dtype.startswith(("float", "bfloat", "int", "uint")) or dtype == "bool"):
        raise ValueError(f"`{name}` must hold real numbers (a float or integer tensor). "
                         f"Received dtype: {dtype}")


def check_inputs(q, k, v, beta=None, same_length=True, one_step=False):
    """Checks ranks and matching dimensions of `[B, T, H, D]` inputs (`[B, H, D]` for a
    one-step form); returns (B, H, Dk, Dv) as far as known."""
    rank, layout = (3, "[batch, heads, dim]") if one_step else (4, "[batch, time, heads, dim]")
    form = " of a one-step form" if one_step else ""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if len(_dims(x)) != rank:
            raise ValueError(
                f"`{name}`{form} must have rank {rank}, {layout}. "
                f"Received: {name}.shape={_dims(x)}"
            )

    def with_time(x):  # one-step inputs checked as steps of unknown length
        dims = _dims(x)
        return (dims[0], None) + dims[1:] if one_step else dims

    (qb, qt, qh, qd), (kb, kt, kh, kd), (vb, vt, vh, vd) = (with_time(x) for x in (q, k, v))
    heads_axis, dim_axis = rank - 2, rank - 1
    if not (_same(qb, kb) and _same(qb, vb)):
        raise ValueError(
            "`q`, `k` and `v` must have the same batch size. Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if not (_same(qh, kh) and _same(qh, vh)):
        raise ValueError(
            f"`q`, `k` and `v` must have the same number of heads (axis {heads_axis}). "
            f"Received: q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if not _same(qd, kd):
        raise ValueError(
            f"`q` and `k` must have the same feature dimension Dk (axis {dim_axis}). Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}"
        )
    if not _same(kt, vt) or (same_length and not _same(qt, kt)):
        what = "`q`, `k` and `v`" if same_length else "`k` and `v`"
        raise ValueError(
            f"{what} must have the same length (axis 1). Received: "
            f"q.shape={_dims(q)}, k.shape={_dims(k)}, v.shape={_dims(v)}"
        )
    if beta is not None:
        expected, names = ((kb, kh), "[batch, heads]") if one_step else (
            (kb, kt, kh), "[batch, time, heads]")
        if not dims_match(_dims(beta), expected):
            raise ValueError(
                f"`beta` must have shape {names} = {expected}. Received: beta.shape={_dims(beta)}"
            )
    return qb or kb, qh or kh, qd or kd, vd


def check_state(initial_state, batch, heads, dk, dv, normalize, name="initial_state"):
    """Checks a state against `S: [B, H, Dk, Dv]` (and `z: [B, H, Dk]`)."""
    if initial_state is None:
        return
    expected_s = (batch, heads, dk, dv)
    if normalize:
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise ValueError(
                f"With `normalize=True` `{name}` is the tuple (S, z) with "
                f"S: {expected_s} and z: {expected_s[:3]}. "
                f"Received: {name} of type {type(initial_state).__name__}"
            )
        pairs = ((f"{name}[0] (S)", initial_state[0], expected_s),
                 (f"{name}[1] (z)", initial_state[1], expected_s[:3]))
    else:
        if isinstance(initial_state, (tuple, list)):
            raise ValueError(
                f"Without attention normalisation (normalize=False) `{name}` is one "
                f"tensor S: {expected_s}. Received: {name} as a "
                f"{type(initial_state).__name__} of {len(initial_state)} items"
            )
        pairs = ((name, initial_state, expected_s),)
    for label, x, expected in pairs:
        if not dims_match(_dims(x), expected):
            raise ValueError(
                f"`{label}` must have shape {expected} ([batch, heads, Dk, Dv][:rank]). "
                f"Received: shape {_dims(x)}"
            )


def compute_dtype(x):
    """float64 stays float64 (gradient checks); everything else accumulates in float32."""
    return "float64" if ops.dtype(x) == "float64" else "float32"


def output_dtype(x):
    """The dtype of a memory program's output: that of `q`, integers promoted to floatx."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    return dtype if "float" in dtype else keras.backend.floatx()


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


Prepared = collections.namedtuple(
    "Prepared", "q k v beta state out_dtype chunk_size eps normalize return_state"
)


def _as_inputs(q, k, v, beta, eps, normalize, has_beta):
    """The checks and conversions both kinds of form start with."""
    eps = check_eps(eps)
    normalize = validation.boolean("normalize", normalize)  # a Python bool (op attributes)
    q, k, v = (as_tensor(name, x) for name, x in (("q", q), ("k", k), ("v", v)))
    if has_beta:
        if beta is None:
            raise ValueError("`beta` must be a tensor. Received: beta=None")
        beta = as_tensor("beta", beta)
    return q, k, v, beta, eps, normalize


def prepare(q, k, v, beta, initial_state, *, normalize, implementation, chunk_size, eps,
            return_state, same_length=True, has_op=True, has_beta=False):
    """The checks and conversions every memory program starts with: arguments validated (flags
    as Python bools), inputs as tensors in the compute dtype (float32, or float64), the state
    zeros or cast."""
    chunk_size = check_implementation(implementation, chunk_size, has_op)
    return_state = validation.boolean("return_state", return_state)
    q, k, v, beta, eps, normalize = _as_inputs(q, k, v, beta, eps, normalize, has_beta)
    initial_state = state_as_tensors(initial_state, normalize, "initial_state")
    batch, heads, dk, dv = check_inputs(q, k, v, beta, same_length=same_length)
    check_state(initial_state, batch, heads, dk, dv, normalize)
    out_dtype = output_dtype(q)
    dtype = compute_dtype(q)
    q, k, v, beta = cast_all(dtype, q, k, v, beta)
    state = (zeros_state(k, v, normalize, dtype) if initial_state is None
             else cast_state(initial_state, dtype))
    return Prepared(q, k, v, beta, state, out_dtype, chunk_size, eps, normalize, return_state)


def prepare_step(q, k, v, beta, state, *, normalize, eps, has_beta=False):
    """The checks and conversions of the one-step forms: `q, k: [B, H, Dk]`, `v: [B, H, Dv]`,
    `beta: [B, H]`, and the state they update (required). Returns (q, k, v, beta, state) cast to
    the state's dtype (float32 under mixed precision), and the output dtype."""
    q, k, v, beta, _, normalize = _as_inputs(q, k, v, beta, eps, normalize, has_beta)
    batch, heads, dk, dv = check_inputs(q, k, v, beta, one_step=True)
    if state is None:
        raise ValueError(
            "`state` is required by the one-step forms: the state they update, S [batch, "
            "heads, Dk, Dv] (or (S, z) for an attention-normalised rule), e.g. zeros or the "
            "final state of the prompt"
        )
    state = state_as_tensors(state, normalize, "state")
    check_state(state, batch, heads, dk, dv, normalize, name="state")
    out_dtype = output_dtype(q)
    q, k, v, beta = cast_to_state(state, q, k, v, beta)
    return q, k, v, beta, state, out_dtype


def is_empty_sequence(x):
    """True when the memory sequence has no steps (a static length of 0)."""
    return x.shape[1] == 0


def empty_sequence_result(prepared):
    """A memory program over no steps: an empty output and the state unchanged. (Keras' scan
    on torch cannot run over zero steps.)"""
    q, v = prepared.q, prepared.v
    shape_q = ops.shape(q)
    o = ops.zeros((shape_q[0], shape_q[1], shape_q[2], ops.shape(v)[3]), prepared.out_dtype)
    return o, prepared.state


def run_causally(program, q, k, v, beta, state, op_forms=None):
    """`program(q, k, v, beta, state) -> (o, final_state)` (a chunked or op form), with a NaN or
    inf written at step t kept out of the outputs before t.

    Those forms multiply whole chunks at once, so a non-finite k, v or beta at step t would reach
    the outputs of earlier steps of its chunk through products with zeros (0 * nan = nan). So a
    step with a non-finite write has its v and beta (and a non-finite k) zeroed before the
    program runs, an identity step of every rule that keeps a finite key in z; after it, what
    the recurrence makes non-finite is marked NaN: every output from the first bad write on (per
    batch row and head), the final S, and the final z after a bad key. (A non-finite query needs
    nothing: it enters only the rows of its own step.) The CPU kernels of the custom ops
    (`op_forms`) do the same inside, at no measurable cost; here it costs a few elementwise passes
    (benchmarks/README.md).
    """
    if op_forms is not None and op_forms.keeps_nonfinite_causal():
        return program(q, k, v, beta, state)
    finite_key = ops.all(ops.isfinite(k), axis=-1)  # [B, T, H]
    finite_write = ops.logical_and(finite_key, ops.all(ops.isfinite(v), axis=-1))
    if beta is not None:
        finite_write = ops.logical_and(finite_write, ops.isfinite(beta))
        beta = ops.where(finite_write, beta, 0)
    k = ops.where(finite_key[..., None], k, 0)
    v = ops.where(finite_write[..., None], v, 0)
    o, final_state = program(q, k, v, beta, state)

    bad_writes_so_far = ops.cumsum(ops.cast(ops.logical_not(finite_write), "int32"), axis=1)
    o = ops.where(ops.equal(bad_writes_so_far, 0)[..., None], o, float("nan"))
    clean_s = ops.all(finite_write, axis=1)[..., None, None]  # [B, H, 1, 1]
    if isinstance(final_state, (tuple, list)):
        s, z = final_state
        clean_z = ops.all(finite_key, axis=1)[..., None]
        return o, (ops.where(clean_s, s, float("nan")), ops.where(clean_z, z, float("nan")))
    return o, ops.where(clean_s, final_state, float("nan"))


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
    # No -1 in the shape: with a zero-sized batch or head axis it is ambiguous (torch) or a
    # division by zero (JAX).
    num_chunks = (length + pad) // chunk_size
    return ops.reshape(x, (shape[0], shape[1], num_chunks, chunk_size) + tuple(shape[3:]))


def from_chunks(x, length):
    """[B, H, N, C, D] -> [B, T, H, D], dropping the padding."""
    shape = ops.shape(x)
    x = ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3], shape[4]))
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
    # maximum_iterations: XLA needs the TensorArrays' size bound to differentiate the loop.
    _, carry, ys_arrays = tf.while_loop(
        lambda i, *_: i < length, body, (tf.constant(0), init, ys_arrays),
        maximum_iterations=length,
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
