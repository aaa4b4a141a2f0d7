"""Calling the raw Fwp ops and the float64 NumPy reference on the same inputs.

The ops always carry the normaliser z (z_T = z_0 + sum_t k_t, even without attention
normalisation), so the reference side adds z and its gradient (dz flows to every k_t) here.
"""

import numpy as np
import tensorflow as tf

import reference as ref
from backend_utils import features, gates
from fwp_keras.tf_ops import load_custom_ops

RULES = ("sum", "delta")


def make_inputs(rng, rule, batch, length, heads, dk, dv, initial_state=True):
    """q, k (positive, sum-normalised), v, beta, s0, z0 as float64 NumPy arrays."""
    x = {
        "q": features(rng, (batch, length, heads, dk)),
        "k": features(rng, (batch, length, heads, dk)),
        "v": rng.standard_normal((batch, length, heads, dv)),
    }
    if rule == "delta":
        x["beta"] = gates(rng, (batch, length, heads))
    if initial_state:
        x["s0"] = rng.standard_normal((batch, heads, dk, dv))
        x["z0"] = 1.0 + rng.uniform(size=(batch, heads, dk))  # a positive running key sum
    else:
        x["s0"] = np.zeros((batch, heads, dk, dv))
        x["z0"] = np.zeros((batch, heads, dk))
    return x


def input_names(rule):
    return ("q", "k", "v") + (("beta",) if rule == "delta" else ()) + ("s0", "z0")


def call_op(rule, x, normalize, dtype=tf.float32, **attrs):
    """Runs FwpLinearAttention / FwpDeltaRule; returns the TF outputs (o, s, z)."""
    lib = load_custom_ops()
    state_dtype = tf.float64 if dtype == tf.float64 else tf.float32
    args = [tf.cast(x[n], dtype if n not in ("s0", "z0") else state_dtype)
            for n in input_names(rule)]
    op = lib.fwp_linear_attention if rule == "sum" else lib.fwp_delta_rule
    return op(*args, normalize=normalize, **attrs)


def op_value_and_grads(rule, x, cotangents, normalize, dtype=tf.float32, **attrs):
    """(o, s, z) and the gradients of <do, o> + <ds, s> + <dz, z> through the registered
    gradient, keyed like the inputs."""
    names = input_names(rule)
    state_dtype = tf.float64 if dtype == tf.float64 else tf.float32
    tensors = {n: tf.constant(x[n], state_dtype if n in ("s0", "z0") else dtype) for n in names}
    with tf.GradientTape() as tape:
        tape.watch(list(tensors.values()))
        outputs = call_op(rule, tensors, normalize, dtype=dtype, **attrs)
        loss = sum(tf.reduce_sum(tf.cast(out, tf.float64) * c) for out, c in zip(outputs, cotangents))
    grads = tape.gradient(loss, [tensors[n] for n in names])
    return [o.numpy() for o in outputs], dict(zip(names, (g.numpy() for g in grads)))


def reference_outputs(rule, x, normalize, eps=1e-6):
    """(o, s, z) in float64."""
    state = (x["s0"], x["z0"]) if normalize else x["s0"]
    if rule == "sum":
        o, final = ref.linear_attention(x["q"], x["k"], x["v"], normalize=normalize,
                                        initial_state=state, eps=eps)
    else:
        o, final = ref.delta_rule(x["q"], x["k"], x["v"], x["beta"], normalize=normalize,
                                  initial_state=state, eps=eps)
    if normalize:
        return o, final[0], final[1]
    return o, final, x["z0"] + x["k"].sum(axis=1)


def reference_grads(rule, x, cotangents, normalize, eps=1e-6):
    """Gradients of <do, o> + <ds, s> + <dz, z>, keyed like the inputs."""
    do, ds, dz = cotangents
    state = (x["s0"], x["z0"]) if normalize else x["s0"]
    d_state = (ds, dz) if normalize else ds
    if rule == "sum":
        g = ref.linear_attention_grad(x["q"], x["k"], x["v"], do, normalize=normalize,
                                      initial_state=state, d_state=d_state, eps=eps)
    else:
        g = ref.delta_rule_grad(x["q"], x["k"], x["v"], x["beta"], do, normalize=normalize,
                                initial_state=state, d_state=d_state, eps=eps)
    grads = {n: g[n] for n in ("q", "k", "v", "beta") if n in g}
    if normalize:
        grads["s0"], grads["z0"] = g["initial_state"]
    else:
        # z_T = z_0 + sum_t k_t: its cotangent reaches every k_t and z_0 unchanged.
        grads["s0"], grads["z0"] = g["initial_state"], dz
        grads["k"] = grads["k"] + dz[:, None]
    return grads


def random_cotangents(rng, x):
    b, t, h, dv = x["v"].shape
    return (rng.standard_normal((b, t, h, dv)), rng.standard_normal(x["s0"].shape),
            rng.standard_normal(x["z0"].shape))
