"""`fwp-reproduce capacity`, `update-rules` and `lm` end to end on tiny grids: valid JSON, PNG
and Markdown that hold each run's own numbers, a second call that reads the runs back, and
one with other flags that refuses them."""

import json
import os
import shutil

import pytest

from fwp_keras.training import cli
from fwp_keras.training.reproduce import capacity, runs

TINY = ["--max-steps", "60", "--eval-every", "30"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def reproduce(experiment, output_dir, *flags, report=None):
    """Runs `fwp-reproduce`; returns its report (`<report>.json`, the experiment's name)."""
    assert cli.reproduce_main([experiment, "--output-dir", str(output_dir), *flags]) == 0
    with open(output_dir / f"{report or experiment.replace('-', '_')}.json") as file:
        return json.load(file)


def assert_png(path):
    with open(path, "rb") as file:
        assert file.read(8) == PNG_SIGNATURE


def test_capacity_on_a_tiny_grid_reports_every_run_and_resumes(tmp_path, capsys):
    flags = ["--num-keys", "4", "6", "--key-dim", "4", "--models", "linear", "dpfp",
             "--dpfp-nu", "1", *TINY]
    report = reproduce("capacity", tmp_path, *flags)
    assert [(row["name"], row["num_keys"]) for row in report["runs"]] == [
        ("linear", 4), ("dpfp_nu1", 4), ("linear", 6), ("dpfp_nu1", 6)]
    for row in report["runs"]:
        results = runs.finished_results(row["output_dir"])
        assert row["eval_loss"] == results["eval_loss"] and row["steps"] == 60
        assert row["d_dot"] == {"linear": 4, "dpfp_nu1": 8}[row["name"]]
        assert os.path.isdir(row["preset"])
    assert_png(report["plot"])
    markdown = (tmp_path / "capacity.md").read_text()
    assert f"{report['runs'][0]['eval_loss']:.4f}" in markdown
    capsys.readouterr()
    assert reproduce("capacity", tmp_path, *flags)["runs"] == report["runs"]
    assert "$ fwp-train" not in capsys.readouterr().out  # read back, nothing trained again


def test_a_report_keeps_its_runs_once_their_folders_are_gone(tmp_path, capsys):
    # As when a committed report is copied into a new --output-dir to go on with its grid.
    linear = ["--num-keys", "4", "--key-dim", "4", "--models", "linear"]
    (reported,) = reproduce("capacity", tmp_path, *linear, *TINY)["runs"]
    shutil.rmtree(tmp_path / "runs")
    capsys.readouterr()
    report = reproduce("capacity", tmp_path, "--num-keys", "4", "--key-dim", "4", "--models",
                       "linear", "dpfp", "--dpfp-nu", "1", *TINY)
    assert capsys.readouterr().out.count("$ fwp-train") == 1  # DPFP's run only
    assert report["runs"][0] == reported
    assert [row["name"] for row in report["runs"]] == ["linear", "dpfp_nu1"]
    assert f"{reported['eval_loss']:.4f}" in (tmp_path / "capacity.md").read_text()
    shutil.rmtree(tmp_path / "runs")
    # Its reported runs are refused under other flags, as a run folder's are.
    assert cli.reproduce_main(["capacity", "--output-dir", str(tmp_path), *linear,
                               "--max-steps", "30", "--eval-every", "30"]) == 2
    assert "holds a run of other flags" in capsys.readouterr().err
    assert cli.reproduce_main(["capacity", "--output-dir", str(tmp_path), "--num-keys", "4",
                               "--key-dim", "8", *TINY]) == 2
    assert "key_dim = 4, not 8" in capsys.readouterr().err


def test_capacity_is_the_largest_key_count_solved_before_the_first_failure():
    def row(name, num_keys, loss):
        return {"name": name, "label": name, "d_dot": 8, "num_keys": num_keys,
                "eval_loss": loss}

    found = capacity.capacities([
        row("a", 4, 1e-4), row("a", 8, 2e-3), row("a", 16, 0.3), row("a", 32, 1e-3),
        row("b", 4, 0.5), row("c", 4, 1e-4), row("c", 8, float("nan"))])
    assert (found["a"]["largest_solved"], found["a"]["first_failed"]) == (8, 16)
    assert (found["b"]["largest_solved"], found["b"]["first_failed"]) == (None, 4)
    assert (found["c"]["largest_solved"], found["c"]["first_failed"]) == (4, 8)


def test_update_rules_writes_each_rules_learning_curve(tmp_path):
    report = reproduce("update-rules", tmp_path, "--num-keys", "6", "--rules", "sum", "delta",
                       *TINY)
    assert [row["name"] for row in report["runs"]] == ["sum", "delta"]
    for row in report["runs"]:
        results = runs.finished_results(row["output_dir"])
        assert results["update_rule"] == row["name"]
        assert [step for step, _ in row["curve"]] == [30, 60]
        assert row["curve"][-1][1] == pytest.approx(results["eval_loss"], rel=1e-5)
    assert_png(report["plot"])


def test_bad_grid_is_a_clear_error(tmp_path, capsys):
    assert cli.reproduce_main(["capacity", "--output-dir", str(tmp_path), "--num-keys", "0"]) \
        == 2
    assert "`--num-keys` must be integers >= 1" in capsys.readouterr().err


def test_lm_on_a_tiny_budget_splits_wikitext_by_article_and_evaluates_both_protocols(tmp_path):
    from fwp_keras.datasets import wikitext
    from fwp_keras.training.datasets import text

    report = reproduce("lm", tmp_path, "--corpus", "wikitext-2-valid", "--models", "delta_net",
                       "--vocabulary-size", "300", "--sequence-length", "16",
                       "--batch-size", "4", "--max-steps", "10", "--eval-every", "10",
                       "--max-eval-tokens", "100", report="lm_wikitext-2-valid")
    # The three splits are the source's articles, in order, each in exactly one split.
    source = wikitext.documents("valid")
    splits = [text.read_documents(str(tmp_path / "data" / f"wiki.{name}.tokens"))
              for name in ("train", "valid", "test")]
    assert sum(splits, []) == source and all(splits)
    (row,) = report["runs"]
    assert row["curve"][0][0] == 10 and row["command"].startswith("fwp-train lm --train")
    evaluation = json.loads((tmp_path / "runs" / "delta_net" / "evaluation.json").read_text())
    for split in ("validation", "test"):
        assert evaluation[split]["tokens"] == row[f"{split}_tokens"] == 100
        for protocol in ("sliding_window", "no_truncation"):
            assert row[f"{split}_{protocol}"] == evaluation[split][protocol]["perplexity"] > 1
    assert_png(report["plot"])


def test_a_run_of_other_flags_is_not_read_back(tmp_path, capsys):
    flags = ["--num-keys", "4", "--key-dim", "4", "--models", "linear"]
    reproduce("capacity", tmp_path, *flags, "--max-steps", "30", "--eval-every", "30")
    assert cli.reproduce_main(["capacity", "--output-dir", str(tmp_path), *flags,
                               "--max-steps", "60", "--eval-every", "30"]) == 2
    assert "holds a run of other flags" in capsys.readouterr().err
