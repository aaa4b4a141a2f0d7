"""What a user could write in a few lines of plain TensorFlow: the custom ops' yardstick.

Issue 3 asks the `Fwp*` ops to beat "short plain-TensorFlow chunked implementations (einsum per
chunk, `tf.scan` over chunks for the delta rule, autodiff)" by 1.5x. These are such
implementations of the causal, unnormalised sum and delta rules, on the library's layout
(q, k: [B, T, H, Dk], v: [B, T, H, Dv], beta: [B, T, H]), zero initial state, T a multiple of the
chunk size. `benchmarks.custom_ops` times them as `implementation="plain_tf"`; their gradients
come from TensorFlow's autodiff. tests/benchmarks/plain_tensorflow_test.py checks them against
the float64 reference.

They are benchmark baselines, not library code: `fwp_keras.ops` has the general forms (any T,
initial state, normalisation, every backend).
"""

import tensorflow as tf


def _chunks(x, chunk_size):
    """[B, T, H, D] -> [B, H, T / C, C, D]."""
    b, t, h, d = x.shape
    if t % chunk_size:
        raise ValueError(f"T must be a multiple of chunk_size={chunk_size}, got T={t}")
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, h, t // chunk_size, chunk_size, d])


def _unchunk(x):
    """[B, H, N, C, D] -> [B, N * C, H, D]."""
    b, h, n, c, d = x.shape
    return tf.transpose(tf.reshape(x, [b, h, n * c, d]), [0, 2, 1, 3])


def sum_rule(q, k, v, chunk_size=64):
    """o_t = q_t sum_{s<=t} k_s^T v_s: every chunk's state is an exclusive cumsum of writes."""
    q, k, v = (_chunks(x, chunk_size) for x in (q, k, v))
    states = tf.cumsum(tf.einsum("bhncd,bhnce->bhnde", k, v), axis=2, exclusive=True)
    scores = tf.linalg.band_part(tf.einsum("bhncd,bhnsd->bhncs", q, k), -1, 0)
    return _unchunk(tf.einsum("bhncd,bhnde->bhnce", q, states)
                    + tf.einsum("bhncs,bhnse->bhnce", scores, v))


def delta_rule(q, k, v, beta, chunk_size=64):
    """S_t = S_{t-1} + beta_t k_t^T (v_t - k_t S_{t-1}), o_t = q_t S_t, in the WY form.

    Per chunk, (I + strictly_lower(diag(beta) K K^T)) [W | U] = [diag(beta) K | diag(beta) V]
    (one batched triangular solve for all chunks), then `tf.scan` over chunks:
    U' = U - W S, O = Q S + tril(Q K^T) U', S <- S + K^T U'.
    """
    q, k, v = (_chunks(x, chunk_size) for x in (q, k, v))
    beta = _chunks(beta[..., None], chunk_size)
    eye = tf.eye(chunk_size, dtype=k.dtype)
    erase = tf.linalg.band_part(beta * tf.einsum("bhncd,bhnsd->bhncs", k, k), -1, 0) * (1 - eye)
    system = erase + eye
    w = tf.linalg.triangular_solve(system, beta * k, lower=True)
    u = tf.linalg.triangular_solve(system, beta * v, lower=True)
    scores = tf.linalg.band_part(tf.einsum("bhncd,bhnsd->bhncs", q, k), -1, 0)

    def step(carry, chunk):
        state, _ = carry
        q_n, k_n, w_n, u_n, scores_n = chunk
        writes = u_n - tf.matmul(w_n, state)
        out = tf.matmul(q_n, state) + tf.matmul(scores_n, writes)
        return state + tf.matmul(k_n, writes, transpose_a=True), out

    def chunk_major(x):
        return tf.transpose(x, [2, 0, 1, 3, 4])

    b, h, _, _, dk = k.shape
    dv = v.shape[-1]
    initial = (tf.zeros([b, h, dk, dv], k.dtype), tf.zeros([b, h, chunk_size, dv], k.dtype))
    _, out = tf.scan(step, tuple(chunk_major(x) for x in (q, k, w, u, scores)), initializer=initial)
    return _unchunk(tf.transpose(out, [1, 2, 0, 3, 4]))
