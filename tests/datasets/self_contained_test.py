"""The project needs nothing beside it: no file of it names a folder outside the repository,
the shipped presets record no path of the machine that trained them, and the demo's data and
a tiny `fwp-train lm` / `fwp-train mt` run from a copy of the package with nothing next to it
(no sibling folders, an empty Keras cache)."""

import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Spelled in parts, so that this file does not name them itself.
OUTSIDE = ("../" + "shared", "shared" + "/data")
TEXT_FILES = (".py", ".md", ".json", ".toml", ".txt", ".cc", ".h", ".sh", ".cfg")


def project_files():
    """Code, tests, README and presets (not `benchmarks/results/`: records of past runs,
    whose commands say what ran where)."""
    for top in ("fwp_keras", "zoo", "training", "tf_ops", "tests", "benchmarks"):
        for folder, folders, files in os.walk(os.path.join(ROOT, top)):
            folders[:] = [f for f in folders if f not in ("__pycache__", "results")]
            yield from (os.path.join(folder, f) for f in files if f.endswith(TEXT_FILES))
    yield from (os.path.join(ROOT, f) for f in ("README.md", "Makefile", "pyproject.toml",
                                                "setup.py", "BUILD", "WORKSPACE"))


def test_no_file_of_the_project_names_a_folder_outside_it():
    named = [f"{os.path.relpath(path, ROOT)}: {word}" for path in project_files()
             for word in OUTSIDE
             if word in open(path, encoding="utf-8", errors="replace").read()]
    assert not named, named


def test_no_shipped_preset_records_a_path_of_the_machine_that_trained_it():
    from fwp_keras.training.reproduce import shipping

    def strings(value):
        if isinstance(value, dict):
            yield from (s for v in value.values() for s in strings(v))
        elif isinstance(value, list):
            yield from (s for v in value for s in strings(v))
        elif isinstance(value, str):
            yield value

    for name, (_, metadata) in shipping.shipped_presets().items():
        for text in strings(metadata):
            for word in text.split():
                assert not os.path.isabs(word) and "{data}" not in word, (name, text[:200])
        assert "dataset" in json.dumps(metadata["training"]["check"]) or "synthetic" in \
            metadata["training"]["check"]["command"], name


ISOLATED_RUN = r"""
import os, sys
import fwp_keras
assert fwp_keras.__file__.startswith(os.getcwd()), fwp_keras.__file__
from fwp_keras.datasets import multi30k, shakespeare
from fwp_keras.training import cli

print("multi30k train", len(multi30k.load_data("train")[0]))
print("macbeth lines", len(shakespeare.documents("test")[0]))
assert cli.evaluate_main(["lm", "--preset", "delta_net_shakespeare", "--dataset", "shakespeare",
                          "--split", "test", "--max-tokens", "64", "--protocols",
                          "sliding-window", "--verbose", "0"]) == 0
assert cli.evaluate_main(["mt", "--preset", "delta_net_multi30k_en_de", "--dataset", "multi30k",
                          "--max-sentences", "2", "--num-beams", "1", "--verbose", "0"]) == 0
tiny = ["--num-layers", "1", "--hidden-dim", "16", "--num-heads", "2", "--intermediate-dim",
        "32", "--max-steps", "2", "--eval-every", "2", "--warmup-steps", "1",
        "--diagnostics-every", "0", "--verbose", "0"]
assert cli.train(["lm", "--dataset", "shakespeare", "--tokenizer", "word",
                  "--vocabulary-size", "300", "--sequence-length", "16", "--batch-size", "2",
                  "--eval-batches", "1", *tiny, "--output-dir", "runs/lm"]) == 0
assert cli.train(["mt", "--dataset", "multi30k", "--max-pairs", "300", "--vocabulary-size",
                  "400", "--max-tokens", "256", "--bleu-sentences", "2", "--num-beams", "1",
                  *tiny, "--output-dir", "runs/mt"]) == 0
"""


def installed_copy(destination):
    """The package as `pip install` lays it out (zoo/, training/, tf_ops/ inside fwp_keras/),
    copied from this checkout with its built op library."""
    skip = shutil.ignore_patterns("__pycache__", "tmp*", "*.o")
    shutil.copytree(os.path.join(ROOT, "fwp_keras"), destination / "fwp_keras", ignore=skip)
    for top in ("zoo", "training", "tf_ops"):
        shutil.copytree(os.path.join(ROOT, top), destination / "fwp_keras" / top, ignore=skip)


def test_demo_data_and_tiny_training_run_from_a_copy_with_nothing_beside_it(tmp_path):
    project = tmp_path / "alone" / "fwp-keras"  # nothing next to it
    installed_copy(project)
    home = tmp_path / "home"  # an empty Keras cache: nothing downloaded before
    env = {**os.environ, "PYTHONPATH": str(project), "HOME": str(home),
           "KERAS_HOME": str(home / ".keras"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", ISOLATED_RUN], cwd=project, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "multi30k train 29000" in done.stdout
    for task in ("lm", "mt"):
        with open(project / "runs" / task / "results.json", encoding="utf-8") as file:
            assert json.load(file)["steps"] == 2
        with open(project / "runs" / task / "preset" / "metadata.json", encoding="utf-8") as f:
            data = json.load(f)["training"]["data"]
        assert data["dataset"] == {"lm": "shakespeare", "mt": "multi30k"}[task]
    assert sorted(os.listdir(tmp_path / "alone")) == ["fwp-keras"]


def test_pip_install_installs_every_subpackage():
    """pyproject.toml lists the packages (zoo/, training/, tf_ops/ map into fwp_keras/): a
    folder missing from the list would be missing from a user's install, not from this
    editable checkout."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        listed = set(tomllib.load(file)["tool"]["setuptools"]["packages"])
    folders = {"fwp_keras": "fwp_keras", "zoo": "fwp_keras.zoo",
               "training": "fwp_keras.training", "tf_ops": "fwp_keras.tf_ops"}
    found = set()
    for top, package in folders.items():
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            if "__init__.py" in files:
                relative = os.path.relpath(folder, os.path.join(ROOT, top))
                found.add(package if relative == "." else
                          ".".join([package, *relative.split(os.sep)]))
    assert found == listed, (sorted(found - listed), sorted(listed - found))
