"""MemoryDiagnostics during fit: rows at the logging interval, numbers that agree with the
model's own state, TensorBoard events, the PNG, and rows kept across a resume."""

import os

import keras
import numpy as np
import pytest

from fwp_keras.training.callbacks import MemoryDiagnostics, memory_model
from fwp_keras.datasets.retrieval import retrieval_dataset
from fwp_keras.training.datasets import text
from fwp_keras.zoo import AssociativeRetrievalModel, squared_error
from training_utils import VOCABULARY, tiny_lm, to_np


@pytest.mark.parametrize("family", ["delta_net", "linear_transformer"])
def test_diagnostics_log_during_fit_and_match_the_final_state(tmp_path, family):
    lm = tiny_lm(family)
    lm.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(0).integers(0, VOCABULARY, 500).astype(np.int32)
    data = text.shuffled_segments(tokens, 8, 4, num_steps=9)
    probe = next(iter(data))[0]
    probe = {"token_ids": probe["token_ids"][:3],
             "padding_mask": np.array([[True] * 8, [True] * 8, [True] * 5 + [False] * 3])}
    path = str(tmp_path / "memory_diagnostics")
    callback = MemoryDiagnostics(probe, str(tmp_path / "tb"), path, every=3)
    lm.fit(data, epochs=1, callbacks=[callback], verbose=0)
    assert [row["step"] for row in callback.rows] == [3, 6, 9]
    measured = callback.measure()  # the trained model's, as logged at step 9
    for name, value in callback.rows[-1].items():
        if name not in ("step", "seconds"):
            np.testing.assert_allclose(value, measured[name], rtol=1e-6)
    assert ("normalizer" in measured) == (family == "linear_transformer")
    assert all(value.shape == (2, 2) for value in measured.values())
    # ||S|| after the last position is the norm of the state the model itself returns.
    _, _, cache = lm.call_with_cache(probe["token_ids"], None, probe["padding_mask"])
    for layer, state in enumerate(cache["memory"]):
        s = to_np(state[0] if isinstance(state, tuple) else state)
        np.testing.assert_allclose(measured["state_norm"][layer],
                                   np.linalg.norm(s, axis=(-2, -1)).mean(0), rtol=1e-4)
    if family == "delta_net":  # the delta rule writes a share of v - vbar
        assert (measured["update_ratio"] > 0).all()
    else:  # the sum rule writes v: the ratio is 1
        np.testing.assert_allclose(measured["update_ratio"], 1.0, rtol=1e-6)
    assert os.path.exists(path + ".png") and os.listdir(tmp_path / "tb")
    resumed = MemoryDiagnostics(probe, str(tmp_path / "tb"), path, every=3, start_step=6)
    assert [row["step"] for row in resumed.rows] == [3, 6]


def test_retrieval_model_diagnostics_and_softmax_has_none(tmp_path):
    keras.utils.set_random_seed(0)
    model = AssociativeRetrievalModel(6, key_dim=8, update_rule="delta")
    model.compile("adam", squared_error)
    data = retrieval_dataset(6, 2, batch_size=4, num_steps=4)
    probe = {name: value[:2] for name, value in next(iter(data))[0].items()}
    callback = MemoryDiagnostics(probe, str(tmp_path / "tb"), str(tmp_path / "d"), every=2)
    model.fit(data, epochs=1, callbacks=[callback], verbose=0)
    assert [row["step"] for row in callback.rows] == [2, 4]
    stats = model.memory_statistics(probe)[0]
    assert tuple(stats["value_norm"].shape) == (2, 12, 1)  # the L = 2S writes only
    assert memory_model(AssociativeRetrievalModel(6, key_dim=8, memory="softmax")) is None
    assert memory_model(tiny_lm("transformer")) is None
