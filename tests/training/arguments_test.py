"""The command lines' flags (`training/arguments/`): `--help` loads no TensorFlow, and the
names the parsers list are the ones the code that runs them knows."""

import subprocess
import sys

import pytest

from fwp_keras.datasets import retrieval
from fwp_keras.layers import feature_maps
from fwp_keras.training import language_modeling, translation
from fwp_keras.training.arguments import evaluate, model, synthetic
from fwp_keras.training.arguments.data import TEXT_FORMATS
from fwp_keras.training.datasets import text

HELP = """
import contextlib, io, sys
from fwp_keras.training import cli
for main, argv in ((cli.train, ["--help"]), (cli.train, ["lm", "--help"]),
                   (cli.train, ["mt", "--help"]), (cli.train, ["synthetic", "--help"]),
                   (cli.train, ["lm", "--no-such-flag"]), (cli.evaluate_main, ["mt", "--help"]),
                   (cli.translate_main, ["--help"]), (cli.reproduce_main, ["lm", "--help"])):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exit:
            assert exit.code in (0, 2), (argv, exit.code)
heavy = sorted(name for name in ("tensorflow", "keras", "jax", "torch") if name in sys.modules)
print(" ".join(heavy) or "none")
"""


def test_help_and_a_mistyped_flag_load_no_framework():
    """`fwp-train --help` took 13 s when the flags lived beside the training code."""
    run = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "none"


@pytest.mark.parametrize("flags, code", [
    (synthetic.FEATURE_MAPS, sorted(feature_maps.FEATURE_MAPS)),
    (model.FAMILIES, sorted(language_modeling.MODELS)),
    (model.FAMILIES, sorted(translation.MODELS)),
    (TEXT_FORMATS, text.FORMATS),
    (evaluate.RETRIEVAL_SETTINGS, retrieval.SETTINGS),
    ((evaluate.RETRIEVAL_EVALUATION_SEQUENCES,), (retrieval.EVALUATION_SEQUENCES,)),
], ids=["feature maps", "lm families", "mt families", "text formats", "retrieval settings",
        "retrieval sequences"])
def test_the_names_the_flags_list_are_the_codes(flags, code):
    assert tuple(flags) == tuple(code)


def _lm_args(*flags):
    from fwp_keras.training.arguments.train import train_parser

    return train_parser().parse_args(["lm", "--output-dir", "unused", "--num-layers", "1",
                                      "--hidden-dim", "64", "--intermediate-dim", "256",
                                      *flags])


def test_initializer_range_draws_the_transformers_kernels_and_refuses_other_families():
    import numpy as np

    from fwp_keras import zoo

    args = _lm_args("--model", "transformer", "--initializer-range", "0.02")
    backbone = model.build_backbone(zoo.TransformerCausalLM, args, vocabulary_size=64)
    kernel = next(w for w in backbone.weights if w.path.endswith("intermediate_dense/kernel"))
    np.testing.assert_allclose(np.asarray(kernel).std(), 0.02, rtol=0.1)
    assert backbone.get_config()["kernel_initializer"]["config"]["stddev"] == 0.02
    for flags in (["--model", "delta_net", "--initializer-range", "0.02"],
                  ["--model", "transformer", "--initializer-range", "0"]):
        with pytest.raises(ValueError, match="--initializer-range"):
            model.build_backbone(zoo.TransformerCausalLM, _lm_args(*flags), vocabulary_size=64)
