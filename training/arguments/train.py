"""`fwp-train`'s flags: those every task shares, then each task's (`synthetic.py`,
`language_modeling.py`, `translation.py` here)."""

import argparse

from fwp_keras.training.arguments import language_modeling, synthetic, translation
from fwp_keras.training.help_formatter import HelpFormatter

# task: the module of its flags here (the one that trains it: `training/<module name>.py`).
TASKS = {"synthetic": synthetic, "lm": language_modeling, "mt": translation}
MIXED_PRECISION = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
DISTRIBUTIONS = ("none", "mirrored", "multi-worker", "data-parallel")


def add_common_arguments(parser):
    parser.add_argument("--output-dir", required=True,
                        help="checkpoints, logs, the preset, results.json and plots go here; "
                             "the same command resumes a run killed in it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed-precision", choices=sorted(MIXED_PRECISION),
                        help="compute in 16 bits (fast weights stay float32; float16 scales "
                             "the loss)")
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="none")
    parser.add_argument("--cpu-devices", type=int,
                        help="split the CPU into this many logical devices (TensorFlow), to "
                             "run --distribution mirrored on one machine")
    parser.add_argument("--diagnostics-every", type=int, default=100,
                        help="steps between memory diagnostics (0: none)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                        help="Keras' fit verbosity: 1 is its progress bar")


def train_parser():
    """`fwp-train`'s flags, a sub-command a task."""
    parser = argparse.ArgumentParser(
        prog="fwp-train", description="Train a fast weight model with model.fit.")
    tasks = parser.add_subparsers(dest="task", required=True)
    for name, module in TASKS.items():
        task = tasks.add_parser(name, help=module.__doc__.splitlines()[0],
                                description=module.__doc__,
                                formatter_class=HelpFormatter)
        add_common_arguments(task)
        module.add_arguments(task)
    return parser
