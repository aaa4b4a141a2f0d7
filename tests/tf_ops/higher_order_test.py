"""Second-order and forward-mode autodiff through the custom ops: Hessian-vector products
(a tape over a tape) and `tf.autodiff.ForwardAccumulator` JVPs, against central finite
differences of the float64 reference's gradient and forward pass."""

import numpy as np
import pytest
import tensorflow as tf

import backend_utils as bu

pytestmark = pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="the custom ops are TensorFlow's")

RULES = {"sum": bu.LINEAR, "delta": bu.DELTA}
H_STEP = 1e-5  # central differences in float64: error ~ h^2 (third derivatives) + 1e-16 / h


def _case(rule, normalize, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rule.inputs(rng, 2, 37, 2, 5, 3, normalize=normalize, initial_state=True,
                         dtype="float64")
    inputs.pop("initial_state")  # the sequence inputs are what is perturbed
    direction = {name: rng.standard_normal(x.shape) * (0.1 if name in ("q", "k") else 1.0)
                 for name, x in inputs.items()}
    cotangent = rng.standard_normal(inputs["v"].shape)
    return inputs, direction, cotangent


def _shifted(inputs, direction, h):
    return {name: x + h * direction[name] for name, x in inputs.items()}


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("name", RULES)
def test_hessian_vector_product(name, normalize):
    rule = RULES[name]
    inputs, direction, cotangent = _case(rule, normalize)
    tensors = {n: tf.constant(x) for n, x in inputs.items()}
    with tf.GradientTape() as outer:
        outer.watch(list(tensors.values()))
        with tf.GradientTape() as inner:
            inner.watch(list(tensors.values()))
            o = rule(tensors, normalize, implementation="op")
            loss = tf.reduce_sum(o * cotangent)
        grads = inner.gradient(loss, tensors)
        along = tf.add_n([tf.reduce_sum(grads[n] * direction[n]) for n in tensors])
    hvp = outer.gradient(along, tensors)

    def reference_grad(x):
        return rule.reference_grad(x, cotangent, None, normalize)

    plus, minus = (reference_grad(_shifted(inputs, direction, s * H_STEP)) for s in (1, -1))
    for n in tensors:
        expected = (plus[n] - minus[n]) / (2 * H_STEP)
        assert bu.relative_error(expected, hvp[n].numpy()) < 1e-6, n


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("name", RULES)
def test_forward_mode_jvp(name, normalize):
    rule = RULES[name]
    inputs, direction, _ = _case(rule, normalize, seed=1)
    tensors = {n: tf.constant(x) for n, x in inputs.items()}
    with tf.autodiff.ForwardAccumulator(
        list(tensors.values()), [tf.constant(direction[n]) for n in tensors]
    ) as accumulator:
        o, state = rule(tensors, normalize, implementation="op", return_state=True)
    jvp = accumulator.jvp((o, state))
    plus, minus = (rule.reference(_shifted(inputs, direction, s * H_STEP), normalize)
                   for s in (1, -1))
    expected = [(p - m) / (2 * H_STEP) for (_, p), (_, m)
                in zip(bu.leaves_with_paths(plus), bu.leaves_with_paths(minus))]
    actual = [leaf.numpy() for _, leaf in bu.leaves_with_paths(jvp)]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert bu.relative_error(e, a) < 1e-6


def test_third_order_is_defined():
    """The second-order gradient is itself differentiable (autodiff of the chunked form)."""
    rule = bu.DELTA
    inputs, direction, cotangent = _case(rule, False, seed=2)
    v = tf.constant(inputs["v"])
    others = {n: tf.constant(x) for n, x in inputs.items() if n != "v"}
    with tf.GradientTape() as third:
        third.watch(v)
        with tf.GradientTape() as second:
            second.watch(v)
            with tf.GradientTape() as first:
                first.watch(v)
                loss = tf.reduce_sum(rule(dict(others, v=v), implementation="op") ** 3)
            g = first.gradient(loss, v)
            g2 = tf.reduce_sum(g * direction["v"])
        h = second.gradient(g2, v)
        h2 = tf.reduce_sum(h * direction["v"])
    t = third.gradient(h2, v)
    assert t is not None and np.all(np.isfinite(t.numpy()))


@pytest.mark.parametrize("name", RULES)
def test_hessian_vector_product_when_q_is_k(name):
    """One tensor fed as both q and k: the op's second-order gradient gives each position its
    own partial derivative (it gave both the total: a relative error of 1.6-1.8), as the
    keras.ops chunked form's autodiff does."""
    rule = RULES[name]
    inputs, direction, cotangent = _case(rule, normalize=False, seed=2)
    inputs.pop("k"), direction.pop("k")

    def hvp(implementation):
        tensors = {n: tf.constant(x) for n, x in inputs.items()}
        with tf.GradientTape() as outer:
            outer.watch(list(tensors.values()))
            with tf.GradientTape() as inner:
                inner.watch(list(tensors.values()))
                o = rule({**tensors, "k": tensors["q"]}, False, implementation=implementation)
                loss = tf.reduce_sum(o * cotangent)
            grads = inner.gradient(loss, tensors)
            along = tf.add_n([tf.reduce_sum(grads[n] * direction[n]) for n in tensors])
        return outer.gradient(along, tensors)

    by_op, by_autodiff = hvp("op"), hvp("chunked")
    for n in by_op:
        assert bu.relative_error(by_autodiff[n].numpy(), by_op[n].numpy()) < 1e-12, n
