"""`make demo` at a small size: both runs train through `fwp-train`, the table and the files."""

import os

from fwp_keras.training import demo


def test_demo_trains_both_models_and_reports_where_everything_went(tmp_path, capsys):
    demo.main(["--output-dir", str(tmp_path), "--num-keys", "6", "--max-steps", "100",
               "--eval-every", "50"])
    out = capsys.readouterr().out
    assert "$ fwp-train synthetic --setting 2 --num-keys 6 --model delta_net" in out
    assert "Epoch 2/2" in out  # Keras' progress lines came through
    for model, rule in (("delta_net", "delta"), ("linear_transformer", "sum")):
        line = next(line for line in out.splitlines() if line.startswith(model + " "))
        assert line.split()[1] == rule and line.split()[2] == "100"
        for name in ("preset", "log.csv", "learning_curves.png", "memory_diagnostics.png"):
            assert os.path.exists(tmp_path / model / name), (model, name)
    assert os.path.getsize(tmp_path / "update_rules.png") > 0
