"""The command lines: `fwp-train synthetic|lm|mt ...`, `fwp-evaluate lm|mt ...` and
`fwp-translate`.

`python -m fwp_keras.training ...` is `fwp-train`. Each task is a module with `add_arguments`
and `run`: `synthetic.py` (Sec. 6.1), `translation.py` (Sec. 6.2), `language_modeling.py`
(Sec. 6.3); `evaluate.py` holds the perplexity protocols and BLEU, `translate.py` translation.
"""

import argparse
import json
import math
import shlex
import sys
import warnings

from fwp_keras.training.quiet_start import load_tensorflow_quietly

load_tensorflow_quietly()  # before anything imports TensorFlow

import keras  # noqa: E402

from fwp_keras.datasets import DownloadError
from fwp_keras.training import evaluate, language_modeling, synthetic, translate, translation
from fwp_keras.training.distribution import DISTRIBUTIONS, Distribution, split_cpu
from fwp_keras.training.help_formatter import HelpFormatter
from fwp_keras.training.training_run import run_flags

TASKS = {"synthetic": synthetic, "lm": language_modeling, "mt": translation}
# What a command reports as one line, not a traceback: bad arguments or data, a failed download.
USER_ERRORS = (ValueError, DownloadError)
MIXED_PRECISION = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


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


def set_up(args):
    """Seeds, precision and distribution, before any model exists."""
    if args.diagnostics_every < 0:
        raise ValueError("`--diagnostics-every` must be an integer >= 0 (0: no diagnostics). "
                         f"Received: {args.diagnostics_every}")
    for name, lowest, allowed in (("learning_rate", 0, "a number > 0"),
                                  ("clip_norm", 0, "a number > 0"),
                                  ("warmup_steps", -1, "an integer >= 0")):
        value = getattr(args, name, None)  # the flags of some tasks only
        if value is not None and not (math.isfinite(value) and value > lowest):
            raise ValueError(f"`--{name.replace('_', '-')}` must be {allowed}. Received: {value}")
    if args.cpu_devices is not None:
        split_cpu(args.cpu_devices)
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(MIXED_PRECISION[args.mixed_precision])
    return Distribution(args.distribution)


def run_training(argv):
    """`fwp-train <argv>` in this process; returns its results (raises ValueError for bad
    arguments)."""
    args = train_parser().parse_args(argv)
    args.command = shlex.join(["fwp-train", *argv])  # recorded in the preset's metadata
    args.flags = run_flags(args)  # what resuming the run in its --output-dir must repeat
    return TASKS[args.task].run(args, set_up(args))


def one_line_warnings(command):
    """Warnings as `<command>: warning: ...` lines, without the source line Python shows."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{command}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def train(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    one_line_warnings("fwp-train")
    try:
        results = run_training(argv)
    except USER_ERRORS as error:
        print(f"fwp-train {argv[0]}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nfwp-train {argv[0]}: interrupted. The same command resumes the run from its "
              "last checkpoint (saved every --eval-every steps).", file=sys.stderr)
        return 130
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


def evaluate_main(argv=None):
    one_line_warnings("fwp-evaluate")
    parser = evaluate.parser()
    args = parser.parse_args(argv)
    try:
        results = evaluate.run(args)
    except USER_ERRORS as error:
        print(f"fwp-evaluate {args.task}: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


def translate_main(argv=None):
    one_line_warnings("fwp-translate")
    args = translate.parser().parse_args(argv)
    try:
        translate.run(args)
    except ValueError as error:
        print(f"fwp-translate: error: {error}", file=sys.stderr)
        return 2
    return 0


def reproduce_parser():
    from fwp_keras.training.reproduce import EXPERIMENTS

    parser = argparse.ArgumentParser(
        prog="fwp-reproduce", description="Reproduce one of the paper's experiments.")
    experiments = parser.add_subparsers(dest="experiment", required=True)
    for name, module in EXPERIMENTS.items():
        experiment = experiments.add_parser(
            name, help=module.__doc__.splitlines()[0], description=module.__doc__,
            formatter_class=HelpFormatter)
        experiment.add_argument("--output-dir", required=True,
                                help="one folder per run in runs/, the report files here; "
                                     "the same command resumes")
        module.add_arguments(experiment)
    return parser


def reproduce_main(argv=None):
    from fwp_keras.training.reproduce import EXPERIMENTS

    one_line_warnings("fwp-reproduce")
    args = reproduce_parser().parse_args(argv)
    try:
        report = EXPERIMENTS[args.experiment].run(args)
    except USER_ERRORS as error:
        print(f"fwp-reproduce {args.experiment}: error: {error}", file=sys.stderr)
        return 2
    with open(report["markdown"], encoding="utf-8") as file:
        print(file.read())
    print(f"Written: {report['markdown']}, {report['json']}, {report['plot']}")
    return 0
