"""`--mixed-precision`: 16-bit compute, float32 fast weights and carried states, loss scaling
for float16, and the float32 loss trajectory kept."""

import csv
import os

import keras
import numpy as np
import pytest

from fwp_keras.training import cli
from fwp_keras.training.carried_state import CarriedStateLM
from fwp_keras.training.datasets import text
from training_utils import VOCABULARY, tiny_lm, to_np

SYNTHETIC = ["synthetic", "--setting", "2", "--num-keys", "10", "--model", "delta_net",
             "--feature-map", "dpfp", "--max-steps", "200", "--eval-every", "50",
             "--verbose", "0"]


def losses(output_dir):
    with open(os.path.join(output_dir, "log.csv"), newline="") as file:
        return np.array([float(row["val_loss"]) for row in csv.DictReader(file)])


@pytest.fixture
def policy():
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)

    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_carried_state_stays_float32_and_float16_scales_the_loss(policy, name):
    policy(name)
    model = CarriedStateLM(tiny_lm(), 2)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(0).integers(0, VOCABULARY, 300).astype(np.int32)
    history = model.fit(text.contiguous_streams(tokens, 8, 2, num_steps=6), verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
        name == "mixed_float16")
    state = model.carried_state()
    assert all(keras.backend.standardize_dtype(s.dtype) == "float32"
               for s in keras.tree.flatten(state["memory"]))
    hidden = model.causal_lm.backbone({"token_ids": tokens[None, :8],
                                       "padding_mask": np.ones((1, 8), bool)})
    assert keras.backend.standardize_dtype(hidden.dtype) == name.split("_")[1]
    assert np.isfinite(to_np(hidden)).all()


def test_bfloat16_run_follows_the_float32_run(tmp_path):
    try:
        assert cli.train(SYNTHETIC + ["--output-dir", str(tmp_path / "f32")]) == 0
        assert cli.train(SYNTHETIC + ["--output-dir", str(tmp_path / "bf16"),
                                      "--mixed-precision", "bfloat16"]) == 0
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_allclose(losses(tmp_path / "bf16"), losses(tmp_path / "f32"), rtol=0.05)
