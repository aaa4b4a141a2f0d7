"""`fwp-train` and `fwp-evaluate` end to end: learning, outputs, and bad input caught before
any training starts."""

import csv
import json
import math
import os

import keras
import numpy as np
import pytest

import corpus_files

from fwp_keras.training import cli
from fwp_keras.training.callbacks import ResumableBackup
from fwp_keras.datasets.retrieval import retrieval_evaluation_data
from fwp_keras.zoo import AssociativeRetrievalModel, squared_error

HAMLET = corpus_files.shakespeare_work("hamlet")
MACBETH = corpus_files.shakespeare_work("macbeth")
TINY_LM = ["--tokenizer", "word", "--vocabulary-size", "500", "--num-layers", "1",
           "--hidden-dim", "16", "--num-heads", "2", "--intermediate-dim", "32",
           "--sequence-length", "16", "--batch-size", "4", "--eval-every", "10",
           "--eval-batches", "2", "--warmup-steps", "5", "--verbose", "0"]


def train(*argv):
    try:
        return cli.train([str(a) for a in argv])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def results(output_dir):
    with open(os.path.join(output_dir, "results.json")) as file:
        return json.load(file)


def test_synthetic_run_learns_what_no_constant_can(tmp_path):
    """Setting 2, S = 10: the best constant prediction scores 1 - 1/S = 0.9."""
    assert train("synthetic", "--setting", 2, "--num-keys", 10, "--model", "delta_net",
                 "--feature-map", "dpfp", "--max-steps", 600, "--eval-every", 100,
                 "--verbose", 0, "--output-dir", tmp_path) == 0
    got = results(tmp_path)
    assert got["eval_loss"] < 0.05 and got["eval_accuracy"] > 0.9
    assert got["steps"] <= 600 and got["update_rule"] == "delta"
    for path in ("preset", "plot", "csv_log", "tensorboard"):
        assert os.path.exists(got[path]), path
    assert ResumableBackup.latest_epoch(got["checkpoints"]) == got["steps"] // 100
    assert os.listdir(os.path.join(tmp_path, "tensorboard"))
    # The preset reloads to the same evaluation loss, and records how it was made.
    model = AssociativeRetrievalModel.from_preset(got["preset"])
    model.compile(loss=squared_error)
    x, y = retrieval_evaluation_data(10, 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(got["eval_loss"], rel=1e-6)
    with open(os.path.join(got["preset"], "metadata.json")) as file:
        training = json.load(file)["training"]
    assert training["command"].startswith("fwp-train synthetic --setting 2 --num-keys 10")
    assert training["metrics"]["eval_loss"] == got["eval_loss"]
    # Run again, the run is done: it reports the same results without training.
    assert train("synthetic", "--setting", 2, "--num-keys", 10, "--model", "delta_net",
                 "--feature-map", "dpfp", "--max-steps", 600, "--eval-every", 100,
                 "--verbose", 2, "--diagnostics-every", 0, "--output-dir", tmp_path) == 0
    assert results(tmp_path)["eval_loss"] == got["eval_loss"]


def test_a_run_of_other_flags_in_a_run_folder_is_an_error(tmp_path, capsys):
    """Neither a finished nor a killed run is resumed, or overwritten, by other flags."""
    command = ["synthetic", "--setting", 2, "--num-keys", 5, "--model", "delta_net",
               "--max-steps", 20, "--eval-every", 10, "--verbose", 0, "--output-dir", tmp_path]
    assert train(*command) == 0
    got = results(tmp_path)
    capsys.readouterr()
    for other in (["--feature-map", "tanh"], ["--num-keys", 6], ["--seed", 1]):
        assert train(*command, *other) == 2
        error = capsys.readouterr().err
        assert "holds a run started with other flags" in error
        assert f"{other[0]} " in error and "now" in error
        assert results(tmp_path) == got


@pytest.mark.parametrize("carry_state", [False, True])
def test_lm_run_writes_a_preset_that_fwp_evaluate_measures(tmp_path, carry_state, capsys):
    flags = ["--carry-state"] if carry_state else []
    assert train("lm", "--train", HAMLET, "--model", "delta_net", "--max-steps", 30,
                 *TINY_LM, *flags, "--output-dir", tmp_path) == 0
    got = results(tmp_path)
    assert got["carry_state"] is carry_state and got["steps"] == 30
    with open(tmp_path / "log.csv") as file:  # learning happened: each evaluation better
        losses = [float(row["val_loss"]) for row in csv.DictReader(file)]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]
    np.testing.assert_allclose(got["validation_perplexity"], math.exp(got["validation_loss"]))
    capsys.readouterr()
    assert cli.evaluate_main(["lm", "--preset", got["preset"], "--text", MACBETH,
                              "--max-tokens", "120", "--verbose", "0"]) == 0
    measured = json.loads(capsys.readouterr().out)
    for protocol in ("sliding_window", "no_truncation"):
        assert measured[protocol]["tokens"] == 119
        assert 1 < measured[protocol]["perplexity"] < 500


@pytest.mark.parametrize("argv,message", [
    (["--train", "missing.txt"], "`--train`: Text file not found"),
    (["--train", "{empty}"], "the files are empty"),
    (["--train", HAMLET, "--model", "lstm"], "`--model` must be one of"),
    (["--train", HAMLET, "--sequence-length", "0"], "`--sequence-length` must be"),
    (["--train", HAMLET, "--model", "transformer", "--carry-state"], "fast weight"),
    (["--train", HAMLET, "--validation-fraction", "0.001"], "one validation batch"),
    (["--train", HAMLET, "--warmup-steps", "-5"], "`--warmup-steps` must be an integer >= 0"),
    (["--train", HAMLET, "--clip-norm", "-1"], "`--clip-norm` must be a number > 0"),
    (["--train", HAMLET, "--model", "delta_net_multi30k_en_de"], "is a translation model"),
    (["--train", HAMLET, "--model", "{missing}"], "is not a CausalLM preset"),
    (["--dataset", "shakespeare", "--train", HAMLET], "as `--train` files, not both"),
    ([], "as `--train` files, not neither"),
    (["--dataset", "shakespeare", "--validation", HAMLET], "validates on its own 'validation'"),
    (["--dataset", "wikitext-103", "--dataset-origin", "{missing}"],
     "Could not download wikitext-103's wikitext-103-v1.zip from file://"),
])
def test_lm_bad_input_fails_before_training(tmp_path, capsys, argv, message):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n")
    argv = [a.replace("{empty}", str(empty)).replace("{missing}", str(tmp_path)) for a in argv]
    output_dir = tmp_path / "run"
    assert train("lm", *TINY_LM, *argv, "--output-dir", output_dir) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(output_dir / "log.csv")
    assert not os.path.exists(output_dir / "flags.json")  # a fixed command may start it


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "shakespeare", "--split", "valid"], "`--split` must be one of ['train', "),
    (["--split", "test", "--text", "{macbeth}"], "`--split` 'test' needs --dataset"),
    (["--dataset", "shakespeare", "--text", "{macbeth}"], "Give --dataset or --text, not both"),
    ([], "Give the text as --dataset NAME (--split SPLIT) or as --text"),
])
def test_evaluate_lm_data_flags_are_checked(capsys, argv, message):
    argv = [a.replace("{macbeth}", MACBETH) for a in argv]
    assert cli.evaluate_main(["lm", "--preset", "delta_net_shakespeare", *argv,
                              "--verbose", "0"]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_lm_on_a_provided_split_is_the_same_as_on_its_file(capsys):
    measured = []
    for data in (["--dataset", "shakespeare", "--split", "test"], ["--text", MACBETH]):
        assert cli.evaluate_main(["lm", "--preset", "delta_net_shakespeare", *data,
                                  "--max-tokens", "80", "--protocols", "sliding-window",
                                  "--verbose", "0"]) == 0
        measured.append(json.loads(capsys.readouterr().out))
    assert measured[0]["dataset"] == "shakespeare" and measured[0]["split"] == "test"
    assert measured[0]["sliding_window"] == measured[1]["sliding_window"]


def test_a_failed_start_leaves_nothing_a_later_run_picks_up(tmp_path, capsys):
    """A run that fails after training its tokenizer, before training: the next command in
    the folder trains its own vocabulary, of its own size (it reused the failed one's)."""
    flags = [a for a in TINY_LM if a != "500"]
    flags[flags.index("--vocabulary-size") + 1:flags.index("--vocabulary-size") + 1] = ["60"]
    assert train("lm", "--train", HAMLET, *flags, "--validation-fraction", "0.0001",
                 "--output-dir", tmp_path) == 2
    assert "one validation batch" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "tokenizer")
    assert train("lm", "--train", HAMLET, *TINY_LM, "--max-steps", 10,
                 "--output-dir", tmp_path) == 0
    assert results(tmp_path)["vocabulary_size"] == 500
    with open(tmp_path / "flags.json") as file:
        assert json.load(file)["vocabulary_size"] == 500


def test_evaluating_a_translation_preset_as_a_language_model_is_a_clear_error(capsys):
    assert cli.evaluate_main(["lm", "--preset", "delta_net_multi30k_en_de", "--text", MACBETH,
                              "--verbose", "0"]) == 2
    assert "is a translation model (DeltaNetSeq2SeqLM)" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--model", "no_such_preset"], "no_such_preset"),
    (["--num-keys", "0"], "`--num-keys` must be"),
    (["--learning-rate", "-1"], "`--learning-rate` must be a number > 0"),
    (["--model", "transformer", "--feature-map", "dpfp"], "is softmax attention"),
    (["--learning-rate", "nan"], "`--learning-rate` must be a number > 0"),
    (["--batch-size", "-1"], "`--batch-size` must be"),
])
def test_synthetic_bad_input_fails_before_training(tmp_path, capsys, argv, message):
    assert train("synthetic", *argv, "--output-dir", tmp_path / "run", "--verbose", 0) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run" / "log.csv")


def test_unwritable_output_dir_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert train("synthetic", "--output-dir", blocker / "run", "--verbose", 0) == 2
    assert "`--output-dir`" in capsys.readouterr().err


def test_failed_save_raises_and_keeps_the_previous_backup(tmp_path):
    """A full disk: the save raises out of `fit`, the save before stays complete."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    x, y = np.ones((8, 3)), np.zeros((8, 2))
    model.fit(x, y, epochs=1, callbacks=[ResumableBackup(str(tmp_path))], verbose=0)
    saved = [w.copy() for w in model.get_weights()]

    def full_disk(filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"partial")
        raise OSError(28, "No space left on device")

    model.save_weights = full_disk
    with pytest.raises(OSError, match="No space left"):
        model.fit(x, y, epochs=3, callbacks=[ResumableBackup(str(tmp_path))], verbose=0)
    assert ResumableBackup.saved_epochs(str(tmp_path)) == [1]
    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    fresh.compile("adam", "mse")
    backup = ResumableBackup(str(tmp_path))
    backup.set_model(fresh)
    backup.on_train_begin()
    for got, expected in zip(fresh.get_weights(), saved):
        np.testing.assert_array_equal(got, expected)
    assert fresh._initial_epoch == 1


def test_a_command_prints_its_results_not_framework_chatter(tmp_path):
    """TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, cuInit) stay off the terminal,
    and a warning is one line; a user who sets TF_CPP_MIN_LOG_LEVEL sees TensorFlow's logs."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-m", "fwp_keras.training", "synthetic", "--setting",
                          "2", "--num-keys", "4", "--key-dim", "8", "--max-steps", "4",
                          "--eval-every", "2", "--diagnostics-every", "0", "--verbose", "0",
                          "--output-dir", str(tmp_path)], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["steps"] == 4
    for chatter in ("I0000", "E0000", "cuInit", "absl", "oneDNN"):
        assert chatter not in run.stderr, run.stderr
