"""The command lines: `fwp-train synthetic|lm|mt ...`, `fwp-evaluate lm|mt ...` and
`fwp-translate`.

`python -m fwp_keras.training ...` is `fwp-train`. The flags are parsed first, with the parsers
of `arguments/` (no TensorFlow); then the task's module runs them: `synthetic.py` (Sec. 6.1),
`translation.py` (Sec. 6.2), `language_modeling.py` (Sec. 6.3); `evaluate.py` holds the
perplexity protocols and BLEU, `translate.py` translation.
"""

import argparse
import importlib
import json
import math
import shlex
import sys
import warnings

from fwp_keras.datasets import DownloadError
from fwp_keras.training.arguments.evaluate import evaluate_parser
from fwp_keras.training.arguments.train import MIXED_PRECISION, TASKS, train_parser
from fwp_keras.training.arguments.translate import translate_parser
from fwp_keras.training.help_formatter import HelpFormatter

# What a command reports as one line, not a traceback: bad arguments or data, a failed download.
USER_ERRORS = (ValueError, DownloadError)


def load_task(module_name):
    """The module `training/<module_name>.py`, with TensorFlow loaded quietly first: after
    the flags parsed, so that `--help` and a mistyped flag answer without it."""
    from fwp_keras.training.quiet_start import load_tensorflow_quietly

    load_tensorflow_quietly()
    return importlib.import_module(f"fwp_keras.training.{module_name}")


def set_up(args):
    """Seeds, precision and distribution, before any model exists."""
    import keras

    from fwp_keras.training.distribution import Distribution, split_cpu

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
    task = load_task(TASKS[args.task].__name__.rpartition(".")[2])
    from fwp_keras.training.training_run import run_flags

    args.command = shlex.join(["fwp-train", *argv])  # recorded in the preset's metadata
    args.flags = run_flags(args)  # what resuming the run in its --output-dir must repeat
    return task.run(args, set_up(args))


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
    args = evaluate_parser().parse_args(argv)
    try:
        results = load_task("evaluate").run(args)
    except USER_ERRORS as error:
        print(f"fwp-evaluate {args.task}: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


def translate_main(argv=None):
    one_line_warnings("fwp-translate")
    args = translate_parser().parse_args(argv)
    try:
        load_task("translate").run(args)
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
        load_task("reproduce")
        report = EXPERIMENTS[args.experiment].run(args)
    except USER_ERRORS as error:
        print(f"fwp-reproduce {args.experiment}: error: {error}", file=sys.stderr)
        return 2
    with open(report["markdown"], encoding="utf-8") as file:
        print(file.read())
    print(f"Written: {report['markdown']}, {report['json']}, {report['plot']}")
    return 0
