"""A run killed (SIGKILL) mid-way and started again with the same command ends as the
uninterrupted run: the same weights, bit for bit, and the same logged metrics."""

import csv
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

COMMAND = [sys.executable, "-m", "fwp_keras.training", "synthetic", "--setting", "2",
           "--num-keys", "6", "--key-dim", "16", "--model", "delta_net", "--batch-size", "8",
           "--max-steps", "100", "--eval-every", "10", "--stop-below", "0",
           "--patience-steps", "100000", "--verbose", "0", "--seed", "5"]
ENV = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(output_dir):
    subprocess.run(COMMAND + ["--output-dir", str(output_dir)], env=ENV, check=True,
                   capture_output=True)


def logged_epochs(output_dir):
    try:
        with open(output_dir / "log.csv", newline="") as file:
            return list(csv.DictReader(file))
    except FileNotFoundError:
        return []


def weights(preset_dir):
    arrays = {}
    with h5py.File(preset_dir / "model.weights.h5") as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, kill):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run(whole)
    process = subprocess.Popen(COMMAND + ["--output-dir", str(killed)], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(logged_epochs(killed)) < 4 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, kill)
    _, error = process.communicate()
    if kill == signal.SIGINT:  # Ctrl-C: one line saying how to go on, not a traceback
        assert process.returncode == 130 and "Traceback" not in error
        assert "interrupted. The same command resumes the run" in error
    assert 4 <= len(logged_epochs(killed)) < 10
    run(killed)
    expected, got = weights(whole / "preset"), weights(killed / "preset")
    assert expected.keys() == got.keys() and expected
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    rows, expected_rows = logged_epochs(killed), logged_epochs(whole)
    assert [r["epoch"] for r in rows] == [str(i) for i in range(10)]
    for row, expected_row in zip(rows, expected_rows):  # all but the wall times
        row.pop("train_seconds"), expected_row.pop("train_seconds")
        assert row == expected_row


def test_lm_with_dropout_and_carried_state_resumes_bit_exactly(tmp_path):
    """The backup holds what an LM run needs beyond the weights: Adam's moments, the dropout
    seed generators and the carried states. Two epochs straight equal one epoch, a restart
    from the backup in a fresh model, and the second epoch."""
    import keras

    from fwp_keras.training.callbacks import ResumableBackup
    from fwp_keras.training.carried_state import CarriedStateLM
    from fwp_keras.training.datasets import text
    from training_utils import VOCABULARY, tiny_lm

    tokens = np.random.default_rng(0).integers(0, VOCABULARY, 800).astype(np.int32)

    def model_and_data(start_step=0):
        model = CarriedStateLM(tiny_lm(dropout=0.3), 2)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model(next(iter(text.contiguous_streams(tokens, 8, 2, num_steps=1)))[0])
        return model, text.contiguous_streams(tokens, 8, 2, start_step=start_step)

    straight, data = model_and_data()
    straight.fit(data, epochs=2, steps_per_epoch=5, verbose=0)
    first, data = model_and_data()
    first.fit(data, epochs=1, steps_per_epoch=5, verbose=0,
              callbacks=[ResumableBackup(str(tmp_path))])
    resumed, data = model_and_data(start_step=5)
    resumed.fit(data, epochs=2, steps_per_epoch=5, verbose=0,
                callbacks=[ResumableBackup(str(tmp_path))])
    assert ResumableBackup.saved_epochs(str(tmp_path)) == [2, 1]
    for expected, got in zip(straight.weights + straight.optimizer.variables,
                             resumed.weights + resumed.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got),
                                      keras.ops.convert_to_numpy(expected), err_msg=got.path)


def test_a_finished_run_extended_to_more_steps_equals_one_started_with_them(tmp_path):
    """A larger --max-steps goes on from where a finished run stopped: bit for bit the run
    started with that budget (the synthetic task's learning rate does not depend on it)."""
    def command(steps):
        flags = COMMAND[:COMMAND.index("--max-steps")] + ["--max-steps", str(steps)] + COMMAND[
            COMMAND.index("--max-steps") + 2:]
        return flags

    def train(output_dir, steps):
        done = subprocess.run(command(steps) + ["--output-dir", str(output_dir)], env=ENV,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    train(tmp_path / "long", 60)
    train(tmp_path / "extended", 30)
    assert "Extending" in train(tmp_path / "extended", 60).stderr
    expected, got = weights(tmp_path / "long" / "preset"), weights(tmp_path / "extended" /
                                                                   "preset")
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    shorter = subprocess.run(command(40) + ["--output-dir", str(tmp_path / "extended")],
                             env=ENV, capture_output=True, text=True)
    assert shorter.returncode == 2 and "--max-steps 60 (now 40)" in shorter.stderr
