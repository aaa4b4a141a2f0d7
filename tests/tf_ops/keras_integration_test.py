"""The ops under Keras: a fit that runs them (and is not jit-compiled around them), and a
SavedModel that contains them, reloaded in a fresh process after `load_custom_ops()`."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import fwp_keras.ops as fwp
from fwp_keras.layers import FastWeightAttention

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="the custom ops are TensorFlow ops")


def op_types(fn, *args):
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()}


@pytest.mark.parametrize("update_rule,op", [("sum", "FwpLinearAttention"),
                                            ("delta", "FwpDeltaRule")])
def test_fit_runs_the_op_without_xla(update_rule, op):
    layer = FastWeightAttention(num_heads=2, key_dim=8, update_rule=update_rule)
    assert layer.supports_jit is False
    inputs = keras.Input((24, 16))
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile="auto")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 24, 16)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1) / 10  # a causal target the memory can learn
    assert op in op_types(lambda t: model(t), tf.constant(x[:2]))
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    assert model.jit_compile is False
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_layers_without_the_op_keep_xla():
    assert FastWeightAttention(2, 8, update_rule="gated").supports_jit is True
    assert FastWeightAttention(2, 8, implementation="chunked").supports_jit is True
    assert FastWeightAttention(2, 8, causal=False).supports_jit is True


# Serves path/inputs.npz (its arrays in order) with the SavedModel at `path` in a fresh process
# that imports TensorFlow and, if asked, registers the ops; exit code 3 if it cannot load.
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    path, load_ops = sys.argv[1], sys.argv[2] == "1"
    if load_ops:
        from fwp_keras.tf_ops import load_custom_ops
        load_custom_ops()
    assert load_ops or not any(name.startswith("fwp_keras") for name in sys.modules)
    try:
        module = tf.saved_model.load(path)
    except Exception as error:
        print("LOAD FAILED:", error)
        sys.exit(3)
    data = np.load(path + "/inputs.npz")
    out = module.serve(*(tf.constant(data[n]) for n in data.files))
    np.save(path + "/reloaded.npy", out.numpy())
""")


def _reload(path, load_ops):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-c", CHILD, path, "1" if load_ops else "0"],
                          capture_output=True, text=True, env=env, timeout=300)


def test_saved_model_with_the_ops_reloads_after_load_custom_ops(tmp_path):
    rng = np.random.default_rng(1)
    q, k = (tf.nn.softmax(rng.standard_normal((2, 30, 2, 6)).astype("float32")) for _ in "qk")
    v = tf.constant(rng.standard_normal((2, 30, 2, 5)).astype("float32"))
    beta = tf.sigmoid(rng.standard_normal((2, 30, 2)).astype("float32"))

    class Memory(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, 2, 6]),
                                      tf.TensorSpec([None, None, 2, 6]),
                                      tf.TensorSpec([None, None, 2, 5]),
                                      tf.TensorSpec([None, None, 2])])
        def serve(self, q, k, v, beta):
            return fwp.delta_rule(q, k, v, beta, implementation="op") + fwp.linear_attention(
                q, k, v, implementation="op")

    module = Memory()
    assert {"FwpDeltaRule", "FwpLinearAttention"} <= {
        op.type for op in module.serve.get_concrete_function().graph.get_operations()}
    expected = module.serve(q, k, v, beta).numpy()
    path = str(tmp_path / "memory")
    tf.saved_model.save(module, path)
    np.savez(path + "/inputs.npz", q=q, k=k, v=v, beta=beta)

    without = _reload(path, load_ops=False)
    assert without.returncode == 3 and "FwpDeltaRule" in without.stdout, without.stderr[-2000:]
    with_ops = _reload(path, load_ops=True)
    assert with_ops.returncode == 0, with_ops.stderr[-2000:]
    np.testing.assert_array_equal(np.load(path + "/reloaded.npy"), expected)


def test_keras_export_inside_disable_custom_ops_loads_in_plain_tensorflow(tmp_path):
    """`model.export()` traced in `disable_custom_ops()` has no Fwp op: a process that imports
    only TensorFlow serves it. Traced with the ops, that process cannot load it."""
    from fwp_keras.tf_ops import disable_custom_ops

    inputs = keras.Input((None, 16))
    h = FastWeightAttention(num_heads=2, key_dim=8, update_rule="delta")(inputs)
    model = keras.Model(inputs, FastWeightAttention(num_heads=2, key_dim=8)(h))
    x = np.random.default_rng(2).standard_normal((2, 40, 16)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))

    plain, with_ops = str(tmp_path / "plain"), str(tmp_path / "with_ops")
    with disable_custom_ops():
        model.export(plain, verbose=False)
    model.export(with_ops, verbose=False)
    for path in (plain, with_ops):
        np.savez(path + "/inputs.npz", x=x)

    served = _reload(plain, load_ops=False)
    assert served.returncode == 0, served.stderr[-2000:]
    np.testing.assert_allclose(np.load(plain + "/reloaded.npy"), expected, rtol=1e-5, atol=1e-6)
    refused = _reload(with_ops, load_ops=False)
    assert refused.returncode == 3 and "Fwp" in refused.stdout, refused.stderr[-2000:]
