"""Carried state (Table 4): segment n+1 continues segment n's fast weights, without gradient
into segment n, and restarts where the stream says `reset`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fwp_keras.training.carried_state import CarriedStateLM
from fwp_keras.training.datasets import text
from training_utils import VOCABULARY, nll_float64, tiny_lm, to_np

LENGTH, BATCH = 6, 2


def segments(seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCABULARY, (BATCH, 2 * LENGTH + 1)).astype(np.int32)
    return tokens[:, :-1], tokens[:, 1:]


def inputs(token_ids, reset):
    return {"token_ids": token_ids, "padding_mask": np.ones(token_ids.shape, bool),
            "reset": np.asarray(reset, bool)}


@pytest.mark.parametrize("family", ["delta_net", "linear_transformer"])
def test_next_segment_equals_the_tail_of_one_pass_and_reset_restarts(family):
    lm = tiny_lm(family)
    model = CarriedStateLM(lm, BATCH)
    ids, labels = segments()
    first, second = ids[:, :LENGTH], ids[:, LENGTH:]
    whole = to_np(lm({"token_ids": ids, "padding_mask": np.ones(ids.shape, bool)}))
    np.testing.assert_allclose(to_np(model(inputs(first, [1, 1]), training=True)),
                               whole[:, :LENGTH], atol=1e-5)
    carried = to_np(model(inputs(second, [0, 0]), training=True))
    np.testing.assert_allclose(carried, whole[:, LENGTH:], atol=1e-5)
    loss_carried = nll_float64(carried, labels[:, LENGTH:]).mean()
    loss_tail = nll_float64(whole[:, LENGTH:], labels[:, LENGTH:]).mean()
    assert abs(loss_carried - loss_tail) < 1e-6
    # Evaluation keeps its own states: training's are untouched by an evaluation pass.
    np.testing.assert_allclose(to_np(model(inputs(first, [1, 1]), training=False)),
                               whole[:, :LENGTH], atol=1e-5)
    # Row 0 restarts from zeros; row 1 carries on from the end of its second segment.
    third = ids[:, :LENGTH]
    restarted = to_np(model(inputs(third, [1, 0]), training=True))
    np.testing.assert_allclose(restarted[0], whole[0, :LENGTH], atol=1e-5)
    longer = np.concatenate([ids, third], axis=1)
    continued = to_np(lm({"token_ids": longer, "padding_mask": np.ones(longer.shape, bool)}))
    np.testing.assert_allclose(restarted[1], continued[1, 2 * LENGTH:], atol=1e-5)


def test_no_gradient_flows_into_the_previous_segment():
    lm = tiny_lm()
    model = CarriedStateLM(lm, BATCH)
    ids, labels = segments(1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model(inputs(ids[:, :LENGTH], [1, 1]), training=True)
    state = model.carried_state()
    weights = lm.trainable_variables

    def gradients(loss_of):
        with tf.GradientTape() as tape:
            loss = loss_of()
        return [to_np(g) for g in tape.gradient(loss, weights)]

    carried = gradients(lambda: loss_fn(labels[:, LENGTH:],
                                        model(inputs(ids[:, LENGTH:], [0, 0]), training=True)))
    # The same segment on top of a constant state: the truncated gradient.
    truncated = gradients(lambda: loss_fn(
        labels[:, LENGTH:], lm.call_with_cache(ids[:, LENGTH:], state)[0]))
    # Backpropagation through both segments: what carried state must not compute.
    through = gradients(lambda: loss_fn(
        labels[:, LENGTH:], lm({"token_ids": ids,
                                "padding_mask": np.ones(ids.shape, bool)})[:, LENGTH:]))
    for c, t in zip(carried, truncated):
        np.testing.assert_allclose(c, t, atol=1e-6)
    differs = max(np.abs(c - t).max() for c, t in zip(carried, through))
    assert differs > 1e-4


def test_fit_on_contiguous_streams_carries_and_checks_the_batch():
    lm = tiny_lm()
    model = CarriedStateLM(lm, BATCH)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(0).integers(0, VOCABULARY, 400).astype(np.int32)
    data = text.contiguous_streams(tokens, LENGTH, BATCH, num_steps=12)
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    state = model.carried_state()
    assert np.abs(to_np(state["memory"][0])).max() > 0
    assert (to_np(state["positions"]) == 12 * LENGTH).all()
    with pytest.raises(ValueError, match="exactly that many rows"):
        model(inputs(np.zeros((3, LENGTH), np.int32), [1, 1, 1]))
    with pytest.raises(ValueError, match="fast weight language model"):
        CarriedStateLM(tiny_lm("transformer"), BATCH)
