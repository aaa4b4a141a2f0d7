"""Turning a finished run into a shipped preset, with a check anyone can rerun.

    python -m fwp_keras.training.reproduce.shipping --run runs/translation/delta_net \\
        --name delta_net_multi30k_en_de --metric bleu -- \\
        fwp-evaluate mt --dataset multi30k --split val --num-beams 1 --max-sentences 64

(`--list` prints the shipped presets as a table) copies `<run>/preset` into the package folder of the preset's family
(`zoo/<family>/presets/<name>/`, found from its backbone class) and adds to its
`metadata.json`, under "training": the run's training time and final metrics, and the check, an
`fwp-evaluate` command on a fixed slice of a provided dataset (`fwp_keras.datasets`) with the
value it gave. `measure` runs a check again; the test of every shipped preset does
(`tests/training/shipped_presets_test.py`).
"""

import argparse
import os
import shutil
import sys

import keras
from keras_hub.src.utils import preset_utils

from fwp_keras.training.arguments.evaluate import evaluate_parser
from fwp_keras.training.help_formatter import HelpFormatter
from fwp_keras.training.reproduce import runs
from fwp_keras.zoo import presets

CHECK_KEY = "check"


def preset_folder(preset_dir):
    """`zoo/<family>/presets`: the folder beside the module of the preset's backbone class."""
    registered = presets.read_json(preset_dir, preset_utils.CONFIG_FILE)["registered_name"]
    cls = keras.saving.get_registered_object(registered)
    if cls is None:
        raise ValueError(f"{preset_dir} holds a {registered}, not a class of the zoo.")
    return os.path.join(os.path.dirname(sys.modules[cls.__module__].__file__), "presets")


def measure(check, preset):
    """Runs the check's `fwp-evaluate` command on `preset` (a name or a directory); returns
    the value of its metric (a dotted key of the results, e.g. `sliding_window.perplexity`)."""
    from fwp_keras.training import evaluate

    argv = list(check["command"][1:])
    argv[argv.index("--preset") + 1] = preset
    results = evaluate.run(evaluate_parser().parse_args(argv))
    for key in check["metric"].split("."):
        results = results[key]
    return float(results)


def ship(run_dir, name, metric, command, tolerance):
    """Ships `run_dir`'s preset as `name`: measured in a staging folder beside the shipped
    ones and renamed into place only when complete (a failure leaves any old one intact)."""
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(f"`--name` must be a plain folder name. Received: {name!r}")
    owner = preset_utils.BUILTIN_PRESETS.get(name)
    results = runs.finished_results(run_dir)
    if results is None:
        raise ValueError(f"`--run` {run_dir!r} has no results.json: the run has not finished.")
    if command[0] != "fwp-evaluate" or "--preset" in command:
        raise ValueError("The check must be an `fwp-evaluate` command without --preset. "
                         f"Received: {' '.join(command)!r}")
    source = results["preset"]
    folder = preset_folder(source)
    destination = os.path.join(folder, name)
    if owner and os.path.dirname(owner["kaggle_handle"]) != folder:
        raise ValueError(f"`--name` {name!r} is shipped already, in {owner['kaggle_handle']}.")
    staging = os.path.join(folder, f".staging-{name}")  # hidden: `find_presets` skips it
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    check = {"command": [*command[:2], "--preset", name, *command[2:]], "metric": metric,
             "tolerance": tolerance}
    check["value"] = measure(check, staging)
    presets.name_task_in_metadata(staging)
    metadata = presets.read_json(staging, preset_utils.METADATA_FILE)
    training = metadata[presets.TRAINING_KEY]
    training["train_minutes"] = round(runs.training_minutes(results), 2)
    # Numbers and words; no file of the machine that trained it (checkpoints, logs, plots).
    training["results"] = {key: value for key, value in results.items()
                           if isinstance(value, (int, float)) or isinstance(value, str)
                           and not os.path.isabs(value) and not os.path.exists(value)}
    training[CHECK_KEY] = check
    presets.write_metadata(staging, metadata)
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(staging, destination)
    return destination, check


def shipped_presets():
    """`{name: (directory, metadata)}` of the presets shipped inside the package (in a
    `presets/` folder of `fwp_keras.zoo`)."""
    zoo_folder = os.path.dirname(presets.__file__) + os.sep
    return {name: (preset["kaggle_handle"], preset["metadata"])
            for name, preset in sorted(preset_utils.BUILTIN_PRESETS.items())
            if preset["kaggle_handle"].startswith(zoo_folder)
            and os.path.basename(os.path.dirname(preset["kaggle_handle"])) == "presets"}


def size_mb(directory):
    return sum(os.path.getsize(os.path.join(folder, file))
               for folder, _, files in os.walk(directory) for file in files) / 2**20


def shipped_table():
    """The shipped presets as a Markdown table: class, size, training and check."""
    rows, total_mb = [], 0.0
    for name, (directory, metadata) in shipped_presets().items():
        total_mb += size_mb(directory)
        training = metadata.get(presets.TRAINING_KEY, {})
        check = training.get(CHECK_KEY, {})
        described = (preset_utils.TASK_CONFIG_FILE if os.path.isfile(
            os.path.join(directory, preset_utils.TASK_CONFIG_FILE)) else preset_utils.CONFIG_FILE)
        rows.append([f"`{name}`", presets.read_json(directory, described)["class_name"],
                     f"{metadata['parameter_count'] / 1e6:.2f} M", f"{size_mb(directory):.1f}",
                     training.get("steps", "-"), f"{training.get('train_minutes', 0):.0f}",
                     f"{check.get('metric', '-')} {check.get('value', float('nan')):.4g}"])
    table = runs.markdown_table(["preset", "class", "parameters", "MB", "steps", "train min",
                                 "check (fixed slice)"], rows)
    return f"{table}\n\n{len(rows)} presets, {total_mb:.1f} MB in all."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--list", action="store_true",
                        help="print the shipped presets as a Markdown table, and stop")
    parser.add_argument("--run", help="a finished fwp-train output directory")
    parser.add_argument("--name", help="the preset's name")
    parser.add_argument("--metric", help="a dotted key of the check's results")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="relative, for the test that measures it again")
    parser.add_argument("check", nargs="*", help="the fwp-evaluate command, after --")
    args = parser.parse_args(argv)
    if args.list:
        print(shipped_table())
        return 0
    try:
        for flag in ("run", "name", "metric", "check"):
            if not getattr(args, flag):
                raise ValueError(f"`--{flag}` is required to ship a preset" if flag != "check"
                                 else "The check command is required, after --.")
        destination, check = ship(args.run, args.name, args.metric, args.check,
                                  args.tolerance)
    except ValueError as error:
        print(f"shipping: error: {error}", file=sys.stderr)
        return 2
    print(f"{destination}: {check['metric']} = {check['value']:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
