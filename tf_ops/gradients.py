"""Registers the gradients of the ops.

- FwpLinearAttention, FwpDeltaRule: their `...Grad` ops (the chunked C++ / CUDA backward).
- FwpLinearAttentionGrad, FwpDeltaRuleGrad: second order, for Hessian-vector products and for
  forward mode (`tf.autodiff.ForwardAccumulator` computes a JVP by differentiating the VJP).
  Derived by autodiff of the same function in its keras.ops chunked form, so it is exact to
  rounding and differentiable again; it runs at the speed of that form, not of the kernels.
"""

import tensorflow as tf

_registered = False


def _attrs(op):
    return {name: op.get_attr(name) for name in ("normalize", "eps", "chunk_size")}


def _cotangents(op, grads):
    """Zeros for outputs that received no gradient (tf.gradients passes None for them)."""
    return [tf.zeros_like(out) if g is None else g for out, g in zip(op.outputs, grads)]


def _keras_forward(rule, normalize, eps):
    """The op's function `(inputs..., s0, z0) -> (o, s, z)` on the keras.ops chunked form. The
    ops always carry z (z_T = z_0 + sum_t k_t, also without attention normalisation)."""
    from fwp_keras import ops as memory_ops

    def forward(*inputs):
        *sequence, s0, z0 = inputs
        state = (s0, z0) if normalize else s0
        program = memory_ops.linear_attention if rule == "sum" else memory_ops.delta_rule
        o, state = program(*sequence, normalize=normalize, initial_state=state,
                           return_state=True, implementation="chunked", eps=eps)
        if normalize:
            return (o, *state)
        return o, state, z0 + tf.reduce_sum(tf.cast(sequence[1], z0.dtype), axis=1)

    return forward


def _gradient_of_gradient(rule, op, grads):
    """d/d(inputs, cotangents) of <grads, VJP(inputs, cotangents)> for a `...Grad` op."""
    num_inputs = len(op.outputs)  # the Grad op returns one gradient per forward input
    # A copy per input position: one tensor fed twice (q is k) would be watched once, and each
    # of its positions would get the total derivative instead of its own partial.
    inputs = [tf.identity(x) for x in op.inputs[:num_inputs]]
    cotangents = [tf.identity(x) for x in op.inputs[num_inputs:]]
    attrs = _attrs(op)
    forward = _keras_forward(rule, attrs["normalize"], attrs["eps"])
    zero = tf.UnconnectedGradients.ZERO
    with tf.GradientTape() as outer:
        outer.watch(inputs + cotangents)
        with tf.GradientTape() as inner:
            inner.watch(inputs)
            outputs = forward(*inputs)
        vjp = inner.gradient(outputs, inputs, output_gradients=cotangents,
                             unconnected_gradients=zero)
    return outer.gradient(vjp, inputs + cotangents, output_gradients=_cotangents(op, grads),
                          unconnected_gradients=zero)


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

    @tf.RegisterGradient("FwpLinearAttentionGrad")
    def _linear_attention_grad_grad(op, *grads):
        return _gradient_of_gradient("sum", op, grads)

    @tf.RegisterGradient("FwpDeltaRuleGrad")
    def _delta_rule_grad_grad(op, *grads):
        return _gradient_of_gradient("delta", op, grads)
