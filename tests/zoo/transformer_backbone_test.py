"""The softmax baseline's `kernel_initializer` (GPT2 draws its kernels from N(0, 0.02)):
it reaches every attention and feed-forward kernel, round-trips through `get_config`, and
configs saved before it existed load with Keras' glorot_uniform."""

import keras
import numpy as np
import pytest

from fwp_keras import zoo

SIZES = dict(vocabulary_size=64, num_layers=1, num_heads=2, hidden_dim=64, intermediate_dim=256)


@pytest.mark.parametrize("cls", [zoo.TransformerBackbone, zoo.TransformerSeq2SeqBackbone])
def test_kernel_initializer_reaches_every_kernel_and_round_trips(cls):
    backbone = cls(**SIZES, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02))
    kernels = [w for w in backbone.weights if w.path.endswith("kernel")]
    assert len(kernels) >= 6  # query, key, value, output, and the two feed-forward denses
    for kernel in kernels:
        np.testing.assert_allclose(np.asarray(kernel).std(), 0.02, rtol=0.2, err_msg=kernel.path)
    config = backbone.get_config()
    restored = cls.from_config(config)
    assert restored.get_config() == config
    assert isinstance(restored.kernel_initializer, keras.initializers.RandomNormal)


@pytest.mark.parametrize("cls", [zoo.TransformerBackbone, zoo.TransformerSeq2SeqBackbone])
def test_a_config_without_kernel_initializer_loads_with_glorot_uniform(cls):
    config = cls(**SIZES).get_config()
    del config["kernel_initializer"]
    backbone = cls.from_config(config)
    assert isinstance(backbone.kernel_initializer, keras.initializers.GlorotUniform)
    kernel = next(w for w in backbone.weights if w.path.endswith("intermediate_dense/kernel"))
    # glorot_uniform: variance 2 / (fan_in + fan_out) = 2 / 320 for the 64 x 256 kernel.
    np.testing.assert_allclose(np.asarray(kernel).std(), (2 / 320) ** 0.5, rtol=0.1)
