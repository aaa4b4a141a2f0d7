"""`make demo` at a small size: every step on the shipped presets, the served answers, the
files it lists, and its report."""

import json
import math
import os

from fwp_keras.training import demo


def test_demo_runs_every_step_and_reports_where_everything_went(tmp_path, capsys):
    demo.main(["--output-dir", str(tmp_path), "--fit-steps", "4", "--generate-length", "12",
               "--bleu-sentences", "8"])
    out = capsys.readouterr().out
    for heading in ("1. Language model: delta_net_shakespeare",
                    "2. Translation: delta_net_multi30k_en_de", "3. Associative retrieval"):
        assert f"=== {heading}" in out
    # One answer from each SavedModel, in its own process, the same as the Keras model's.
    assert out.count("(the same as the Keras model's)") == 2
    assert "4/4" in out  # Keras' progress bar of the LM's fit
    for name in ("lm_tuned/config.json", "lm_tuned/model.weights.h5",
                 "lm_saved_model/saved_model.pb", "mt_saved_model/saved_model.pb"):
        assert os.path.exists(tmp_path / name), name
        assert str(tmp_path / name.split("/")[0]) in out
    with open(tmp_path / "demo.json") as file:
        report = json.load(file)
    perplexity = report["language_model"]
    assert all(math.isfinite(perplexity[key]) and perplexity[key] > 1 for key in perplexity)
    assert report["translation"]["sentences"] == 8
    assert report["retrieval"]["delta"]["eval_loss"] < 0.001 < report["retrieval"]["sum"][
        "eval_loss"]
