"""The memory programs of `fwp_keras.ops` on the `Fwp...` ops: same arguments, same results.

`fwp_keras.ops.linear_attention` / `delta_rule` call these on the TensorFlow backend when
`implementation` is `"op"`, or `"auto"` and the library is loaded. They receive inputs already
cast to float32 (float64 for float64) and the state in the same dtype. The kernels tile time with
their own chunk size (the ops' `chunk_size` attribute, tuned for the CPU caches); the keras.ops
chunked form's `chunk_size` does not apply to them.
"""

import tensorflow as tf

from fwp_keras.tf_ops.loader import load_custom_ops


def keeps_nonfinite_causal():
    """Whether the kernels that will run keep a NaN / inf at step t out of the outputs before t
    themselves: the CPU kernels do (tensor_head_io.h), the CUDA kernels not yet, so with a GPU
    visible the memory programs guard the op's inputs in Python instead."""
    return not tf.config.list_logical_devices("GPU")


def _split_state(state, normalize):
    """The ops always carry the normaliser z; without normalisation it starts at zero."""
    if normalize:
        return state
    return state, tf.zeros(tf.shape(state)[:3], state.dtype)


def linear_attention(q, k, v, state, *, normalize, eps):
    """Causal sum rule; returns `(o, final_state)` with the state as given, `S` or `(S, z)`."""
    s, z = _split_state(state, normalize)
    o, s, z = load_custom_ops().fwp_linear_attention(
        q, k, v, s, z, normalize=normalize, eps=eps
    )
    return o, ((s, z) if normalize else s)


def delta_rule(q, k, v, beta, state, *, normalize, eps):
    """Delta rule; returns `(o, final_state)` with the state as given, `S` or `(S, z)`."""
    s, z = _split_state(state, normalize)
    o, s, z = load_custom_ops().fwp_delta_rule(
        q, k, v, beta, s, z, normalize=normalize, eps=eps
    )
    return o, ((s, z) if normalize else s)
