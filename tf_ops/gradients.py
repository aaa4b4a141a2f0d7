"""Registers the gradients of FwpLinearAttention and FwpDeltaRule: their `...Grad` ops."""

import tensorflow as tf

_registered = False


def _attrs(op):
    return {name: op.get_attr(name) for name in ("normalize", "eps", "chunk_size")}


def _cotangents(op, grads):
    """Zeros for outputs that received no gradient (tf.gradients passes None for them)."""
    return [tf.zeros_like(out) if g is None else g for out, g in zip(op.outputs, grads)]


def register(module):
    global _registered
    if _registered:
        return
    _registered = True

    @tf.RegisterGradient("FwpLinearAttention")
    def _linear_attention_grad(op, *grads):
        return module.fwp_linear_attention_grad(
            *op.inputs, *_cotangents(op, grads), **_attrs(op)
        )

    @tf.RegisterGradient("FwpDeltaRule")
    def _delta_rule_grad(op, *grads):
        return module.fwp_delta_rule_grad(*op.inputs, *_cotangents(op, grads), **_attrs(op))
