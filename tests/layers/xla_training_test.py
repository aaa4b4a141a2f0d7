"""Training under XLA: `fit(jit_compile=True)` of every update rule and implementation on
TensorFlow, and on JAX (whose `fit` is a `jax.jit` training step). On TensorFlow,
implementation="auto" inside an XLA function takes the chunked form (the custom ops have no XLA
kernels) and "op" says why it cannot run there."""

import keras
import numpy as np
import pytest
from layer_utils import assert_close, make_layer, random, to_np

import fwp_keras.ops as fwp
from fwp_keras.layers import FastWeightAttention, FAVORPlus

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(BACKEND == "torch", reason="XLA: TensorFlow and JAX")

LAYERS = {
    "sum": dict(update_rule="sum"),
    "sum_bidirectional": dict(update_rule="sum", causal=False),
    "delta": dict(update_rule="delta"),
    "delta_attention": dict(update_rule="delta", normalization="attention"),
    "gated": dict(update_rule="gated"),
    "favor_fixed": dict(update_rule="sum", feature_map=lambda: FAVORPlus(8, redraw=False)),
    # Redrawn features: TensorFlow's stateless random ops draw other numbers under XLA, so
    # this one is compared with itself only (a finite loss, trained weights).
    "favor_redrawn": dict(update_rule="delta", feature_map="favor_plus"),
}


def _fit(layer_kwargs, jit_compile, steps=3):
    keras.utils.set_random_seed(0)  # the same initial weights for every run
    layer = make_layer(**layer_kwargs)
    assert layer.supports_jit
    inputs = keras.Input((12, 6))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=jit_compile)
    x = random((4 * steps, 12, 6), seed=1)
    y = np.cumsum(x[..., :1], axis=1) / 10
    before = [to_np(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return model, history.history["loss"][0], before


# Every rule in both forms; the variants that change no loop (the bidirectional form, the
# normalised delta rule, FAVOR+) in the chunked form.
CASES = [(name, implementation) for name in ("sum", "delta", "gated")
         for implementation in ("recurrent", "chunked")]
CASES += [(name, "chunked") for name in LAYERS if name not in ("sum", "delta", "gated")]


@pytest.mark.parametrize("name, implementation", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_fit_under_xla(name, implementation):
    """The gradient of the recurrent and chunked loops compiles (fixed-size loops), and an XLA
    step trains the same weights as a step without XLA."""
    kwargs = dict(LAYERS[name], implementation=implementation)
    model, loss, before = _fit(kwargs, jit_compile=True)
    assert model.jit_compile is True
    assert np.isfinite(loss)
    if name == "favor_redrawn":
        assert not all(np.array_equal(a, to_np(b)) for a, b in zip(before, model.trainable_weights))
        return
    reference, reference_loss, reference_before = _fit(kwargs, jit_compile=False)
    for a, b in zip(before, reference_before):
        np.testing.assert_array_equal(a, b)  # the same initial weights ...
    for a, b in zip(model.trainable_weights, reference.trainable_weights):
        assert_close(a, to_np(b), 1e-4)  # ... and the same trained ones
    assert abs(loss - reference_loss) <= 1e-4 * abs(reference_loss)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the custom ops are TensorFlow's")
@pytest.mark.parametrize("update_rule", ["sum", "delta"])
def test_auto_takes_the_chunked_form_under_xla(update_rule):
    """A training step of an "auto" layer in tf.function(jit_compile=True): no op in the graph,
    the gradients of the chunked form."""
    import tensorflow as tf

    layer = FastWeightAttention(2, 4, update_rule=update_rule, chunk_size=4)
    chunked = FastWeightAttention(2, 4, update_rule=update_rule, chunk_size=4,
                                  implementation="chunked")
    x = tf.constant(random((2, 12, 6), seed=2))
    layer.build(x.shape)
    chunked.build(x.shape)
    chunked.set_weights(layer.get_weights())

    def loss_and_grads(attention):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(attention(x) ** 2)
        return loss, tape.gradient(loss, attention.trainable_weights)

    compiled = tf.function(lambda: loss_and_grads(layer), jit_compile=True)
    graph_ops = {op.type for op in compiled.get_concrete_function().graph.get_operations()}
    assert not any(op.startswith("Fwp") for op in graph_ops)
    loss, grads = compiled()
    expected_loss, expected_grads = loss_and_grads(chunked)
    assert_close(loss, to_np(expected_loss))
    for g, e in zip(grads, expected_grads):
        assert_close(g, to_np(e), 1e-4)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the custom ops are TensorFlow's")
def test_op_under_xla_says_why():
    import tensorflow as tf

    q = tf.nn.softmax(tf.constant(random((1, 5, 1, 3))))

    @tf.function(jit_compile=True)
    def run():
        return fwp.linear_attention(q, q, q, implementation="op")

    with pytest.raises(ValueError, match="cannot run under XLA.*no XLA kernels"):
        run()
