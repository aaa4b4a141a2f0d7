"""`fwp-train` on JAX and PyTorch: the same pipelines (tf.data feeds every backend), the carried
state's variables updated inside the step, the memory diagnostics, a resumable run."""

import csv
import json
import os
import subprocess
import sys

import pytest

import corpus_files

HAMLET = corpus_files.shakespeare_work("hamlet")


def fwp_train(backend, output_dir, *argv):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "fwp_keras.training", *argv, "--verbose", "0",
                           "--output-dir", str(output_dir)], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(output_dir, "results.json")) as file:
        return json.load(file)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_synthetic_and_carried_state_lm_train_on(backend, tmp_path):
    synthetic = fwp_train(backend, tmp_path / "synthetic", "synthetic", "--setting", "2",
                          "--num-keys", "10", "--feature-map", "dpfp", "--max-steps", "600",
                          "--eval-every", "100", "--diagnostics-every", "100")
    assert synthetic["steps"] == 600 and synthetic["eval_loss"] < 0.3  # constant: 1 - 1/10
    assert os.path.exists(synthetic["memory_diagnostics"])
    lm = fwp_train(backend, tmp_path / "lm", "lm", "--train", HAMLET, "--carry-state",
                   "--vocabulary-size", "300", "--num-layers", "1", "--hidden-dim", "16",
                   "--num-heads", "2", "--intermediate-dim", "32", "--sequence-length", "16",
                   "--batch-size", "4", "--max-steps", "20", "--eval-every", "10",
                   "--eval-batches", "2", "--warmup-steps", "2", "--diagnostics-every", "10")
    assert lm["steps"] == 20
    with open(os.path.join(tmp_path / "lm", "log.csv")) as file:  # the evaluation improved
        losses = [float(row["val_loss"]) for row in csv.DictReader(file)]
    assert len(losses) == 2 and losses[1] < losses[0]
    with open(os.path.join(tmp_path / "lm", "memory_diagnostics.jsonl")) as file:
        rows = [json.loads(line) for line in file]
    assert [row["step"] for row in rows] == [10, 20]
    assert rows[0]["state_norm"] != rows[1]["state_norm"]  # the weights moved between logs
