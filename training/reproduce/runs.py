"""What every experiment shares: running one `fwp-train` command in this process (or reading
back the run it already finished), and writing the report."""

import os
import shlex
import time

from fwp_keras.json_files import read_json_file, write_json

RESULTS_FILE = "results.json"


def finished_results(output_dir):
    """The `results.json` of a finished run in `output_dir`, or None."""
    return read_json_file(os.path.join(output_dir, RESULTS_FILE))


def train(argv, output_dir):
    """`fwp-train <argv> --output-dir <output_dir>` in this process, or the results of the
    run it already finished there (a ValueError if that run had other flags). Adds `argv`
    and the wall time of the process that finished it (`wall_seconds`)."""
    results = finished_results(output_dir)
    if results is not None:
        if results.get("argv", argv) != argv:
            raise ValueError(
                f"{output_dir} holds a run of other flags: {shlex.join(results['argv'])!r}, "
                f"not {shlex.join(argv)!r}. Use another --output-dir (or remove that run).")
        return results
    import keras

    from fwp_keras.training import cli  # run_training imports the task that runs

    command = [*argv, "--output-dir", output_dir]
    print("$ " + shlex.join(["fwp-train", *command]), flush=True)
    keras.backend.clear_session()  # each run starts from a fresh graph and the same seeds
    start = time.time()
    results = cli.run_training(command)
    results["wall_seconds"] = time.time() - start
    results["argv"] = argv
    write_json(os.path.join(output_dir, RESULTS_FILE), results)
    return results


def reported_runs(output_dir, report_name, key, **same):
    """The rows of the report already in `output_dir` (`<report_name>.json`), keyed by
    `key(row)`: the report keeps every run made for it, also once their run folders are gone
    (start a new folder from a committed report by copying it in). A ValueError if that report
    was made with other `same` settings (say another `key_dim`)."""
    report = read_json_file(os.path.join(output_dir, f"{report_name}.json")) or {}
    for name, value in same.items():
        if report.get(name, value) != value:
            raise ValueError(f"{output_dir}/{report_name}.json reports runs of {name} = "
                             f"{report[name]!r}, not {value!r}. Use another --output-dir.")
    return {key(row): row for row in report.get("runs", [])}


def reported_row(reported, argv, output_dir):
    """`reported` (the report's row of this run) when its run folder `output_dir` is gone,
    so that nothing trains again; None when there is no such row or the folder is there (the
    run is read back from it, or trained). A ValueError if the row is of other flags."""
    if reported is None or finished_results(output_dir) is not None:
        return None
    reported_argv = shlex.split(reported["command"])[1:-2]  # without fwp-train, --output-dir
    if reported_argv != argv:
        raise ValueError(
            f"The report in {os.path.dirname(os.path.dirname(output_dir))} holds a run of other "
            f"flags: {shlex.join(reported_argv)!r}, not {shlex.join(argv)!r}. Use another "
            "--output-dir.")
    return reported


def fill_row(rows, key, argv, output_dir, row_of):
    """`rows[key]`: the reported row of this run when its folder is gone (`reported_row`),
    else `row_of(results)` of the run trained, or read back, in `output_dir`."""
    rows[key] = (reported_row(rows.get(key), argv, output_dir)
                 or row_of(train(argv, output_dir)))


def command(argv, output_dir):
    return shlex.join(["fwp-train", *argv, "--output-dir", output_dir])


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def write_report(output_dir, name, report, markdown):
    """`<name>.json` and `<name>.md` in `output_dir`; returns the report with their paths."""
    json_path = os.path.join(output_dir, f"{name}.json")
    write_json(json_path, report)
    markdown_path = os.path.join(output_dir, f"{name}.md")
    with open(markdown_path, "w", encoding="utf-8") as file:
        file.write(markdown + "\n")
    return {**report, "json": json_path, "markdown": markdown_path}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def new_plot():
    """`(figure, axis)` of one report plot."""
    return _pyplot().subplots(figsize=(7, 4.5))


def save_plot(figure, axis, path, *, xlabel, ylabel, title, log_y=True):
    if log_y:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def add_training_arguments(parser):
    """The `fwp-train synthetic` flags every run of an experiment shares."""
    group = parser.add_argument_group("training (each run; the paper's stopping rule)")
    group.add_argument("--max-steps", type=int, default=20_000)
    group.add_argument("--eval-every", type=int, default=100)
    group.add_argument("--stop-below", type=float, default=0.001)
    group.add_argument("--patience-steps", type=int, default=1000)
    group.add_argument("--seed", type=int, default=0)


def training_flags(args):
    return ["--max-steps", str(args.max_steps), "--eval-every", str(args.eval_every),
            "--stop-below", str(args.stop_below), "--patience-steps", str(args.patience_steps),
            "--seed", str(args.seed), "--diagnostics-every", "0", "--verbose", "2"]


def curve(results, eval_every, metric="val_loss"):
    """`[(step, metric)]` of every logged epoch of a run."""
    import csv

    with open(results["csv_log"], newline="", encoding="utf-8") as file:
        return [((int(row["epoch"]) + 1) * eval_every, float(row[metric]))
                for row in csv.DictReader(file)]


def training_minutes(results):
    """The run's training time over all its processes: the sum of its logged epoch times."""
    import csv

    with open(results["csv_log"], newline="", encoding="utf-8") as file:
        return sum(float(row.get("train_seconds") or 0) for row in csv.DictReader(file)) / 60


def summary(results, *, argv, **fields):
    """One report row for a synthetic run."""
    return {**fields, "eval_loss": results["eval_loss"],
            "best_eval_loss": results["best_eval_loss"],
            "eval_accuracy": results["eval_accuracy"], "steps": results["steps"],
            "stopped": results["stopped"], "train_minutes": training_minutes(results),
            "command": command(argv, results["output_dir"]),
            "output_dir": results["output_dir"], "preset": results["preset"]}
