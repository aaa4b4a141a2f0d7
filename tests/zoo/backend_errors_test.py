"""Errors whose aftermath differs by backend, each checked on every backend: token ids outside
the vocabulary in a direct call (JAX's gather would clamp them silently, torch's fail deep
inside), and a `fit`, `evaluate` or `predict` that raises (Keras's JAX trainer would leave the
variables empty)."""

import keras
import numpy as np
import pytest
import tensorflow as tf  # keras-hub's inputs pipeline, whatever the backend

import zoo_utils as zu
from zoo_utils import to_np


def failing_loss(y_true, y_pred):
    raise ValueError("a loss that fails while the first step is traced")


def batches_then_failure(batch):
    """A `tf.data.Dataset` whose second batch fails to load (keras-hub feeds tf.data)."""
    def load(index):
        if index > 0:
            raise ValueError("a batch that fails to load")
        return index

    def loaded(index):
        with tf.control_dependencies([tf.numpy_function(load, [index], tf.int64)]):
            return {key: tf.identity(value) for key, value in batch.items()}

    return tf.data.Dataset.range(2).map(loaded)


@pytest.fixture()
def trained_lm():
    lm = zu.make_lm("delta_net")
    lm.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = zu.prompts([8, 8], 8)
    lm.fit(batch, batch["token_ids"], epochs=1, verbose=0)
    return lm, batch


def test_a_direct_call_checks_the_token_ids():
    lm = zu.make_lm("delta_net")
    batch = zu.prompts([8, 5], 8)
    batch["token_ids"][0, 3] = zu.VOCABULARY
    with pytest.raises(ValueError, match=r"token_ids.*\[0, 61\).*\[61\]"):
        lm.backbone(batch)
    batch["token_ids"][0, 3] = -2
    with pytest.raises(ValueError, match=r"token_ids.*\[-2\]"):
        lm(batch)
    batch["token_ids"][0, 3] = zu.VOCABULARY - 1
    assert np.isfinite(to_np(lm(batch))).all()


@pytest.mark.parametrize("failing_call", ["fit", "evaluate", "predict"])
def test_a_call_that_raises_keeps_the_weights(trained_lm, failing_call):
    lm, batch = trained_lm
    weights = [to_np(w) for w in lm.weights]
    expected_logits = to_np(lm(batch))
    with pytest.raises(Exception, match="fails"):  # tf.data's error carries the ValueError
        if failing_call == "predict":
            lm.predict(batches_then_failure(batch), verbose=0)
        else:
            lm.compile(optimizer=lm.optimizer, loss=failing_loss)
            getattr(lm, failing_call)(batch, batch["token_ids"], verbose=0)
    for before, variable in zip(weights, lm.weights):
        np.testing.assert_array_equal(before, to_np(variable), err_msg=variable.path)
    np.testing.assert_allclose(to_np(lm.predict(batch, verbose=0)), expected_logits,
                               rtol=1e-5, atol=1e-5)
    lm.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = lm.fit(batch, batch["token_ids"], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
