"""TrainingRun: an output directory and everything a resumable `fit` writes into it.

    <output-dir>/checkpoints/backup/   `ResumableBackup`: weights, optimizer and seed states
                                       at the end of every epoch (the two newest; a save is
                                       complete or absent, whenever the kill comes)
    <output-dir>/checkpoints/best.weights.h5    the weights of the best evaluation
    <output-dir>/log.csv               one row per epoch (Keras `CSVLogger`)
    <output-dir>/tensorboard/          TensorBoard logs (memory/: the memory diagnostics)
    <output-dir>/memory_diagnostics.*  the diagnostics' rows (.jsonl) and plot (.png)
    <output-dir>/preset/               the final model as a keras-hub preset
    <output-dir>/results.json          the command, settings, metrics, wall time and paths
    <output-dir>/flags.json            the flags the run started with (a resume must match)
    <output-dir>/tokenizer/            the run's vocabulary (`fwp-train lm` / `mt`)
    <output-dir>/*.png                 plots

An epoch here is one evaluation interval (`steps_per_epoch` training steps on an endless,
step-indexed dataset). A run started again with the same command reads the backup's epoch,
builds its data from the step after it, and drops the log rows of epochs it will redo, so it
ends as the uninterrupted run would (`tests/training/resume_test.py`). A command of other flags
(but `--verbose`, `--diagnostics-every` and `--dataset-origin`, which change no weight) is an
error, not a resume; but a larger `--max-steps` extends a run, finished or not, from where it
is: exactly as a run started with that budget where the learning rate does not depend on it
(`fwp-train synthetic` and `mt`); `fwp-train lm`'s cosine schedule is laid over the new budget,
so from the step it resumes at it follows the longer schedule.
"""

import csv
import json
import math
import os
import shutil
import statistics
import sys
import time

import keras

from fwp_keras.training.callbacks import (
    EpochTimer,
    MemoryDiagnostics,
    ResumableBackup,
    StopWhen,
    memory_model,
)
from fwp_keras.json_files import read_json_file, write_json
from fwp_keras.zoo.presets import record_training

FLAGS_FILE = "flags.json"
TOKENIZER_FOLDER = "tokenizer"
# What a resumed run may change: none of these changes what it trains.
FLAGS_A_RESUME_MAY_CHANGE = ("output_dir", "verbose", "diagnostics_every", "command",
                             "dataset_origin")
EXTENDABLE = "max_steps"  # a later command may raise it: the run goes on


def run_flags(args):
    """The parsed flags of an `fwp-train` command that a resume must repeat, as JSON values."""
    return json.loads(json.dumps({name: value for name, value in sorted(vars(args).items())
                                  if name not in FLAGS_A_RESUME_MAY_CHANGE}, default=str))


class TrainingRun:
    """See the module docstring. `monitor` is the metric `threshold` and `patience_steps`
    (the paper's stopping rule, `StopWhen`) and the best checkpoint look at."""

    def __init__(self, output_dir, *, steps_per_epoch, max_steps, monitor="val_loss",
                 threshold=None, patience_steps=None, flags=None):
        self.output_dir = os.path.abspath(output_dir)
        self.steps_per_epoch = steps_per_epoch
        self.epochs = math.ceil(max_steps / steps_per_epoch)
        self.monitor = monitor
        self.threshold = threshold
        self.patience_steps = patience_steps
        self.backup_dir = self.path("checkpoints", "backup")
        self.best_weights = self.path("checkpoints", "best.weights.h5")
        self.csv_log = self.path("log.csv")
        self.tensorboard_dir = self.path("tensorboard")
        self.preset_dir = self.path("preset")
        self._check_writable()
        self.flags = flags
        self.extended_from = None
        if flags is not None:
            self._check_flags(flags)
        self.initial_epoch = ResumableBackup.latest_epoch(self.backup_dir)
        self._written_at_start = []  # (name, save): `write_at_start`
        self.memory_diagnostics = None  # the callback, once `diagnostics` made it
        self.fit_seconds = None
        self.history = self._history()
        self.stopper = StopWhen(monitor, threshold, patience_steps, steps_per_epoch,
                                history=[row[monitor] for row in self.history if monitor in row])

    def path(self, *parts):
        return os.path.join(self.output_dir, *parts)

    def _check_writable(self):
        """Fails before any training when the output directory cannot take files."""
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            probe = self.path(".write_test")
            with open(probe, "w", encoding="utf-8") as file:
                file.write("ok")
            os.remove(probe)
        except OSError as error:
            raise ValueError(
                f"`--output-dir` {self.output_dir!r} is not writable: {error}") from error

    def _check_flags(self, flags):
        """In a run started before (`fit` records its `run_flags`), a ValueError naming each
        flag that differs from those it was started with."""
        started = read_json_file(self.path(FLAGS_FILE))
        if started is None:
            return
        before, now = started.get(EXTENDABLE), flags.get(EXTENDABLE)
        if before is not None and now is not None and now > before:
            self.extended_from = before  # a larger budget: the run goes on (flags.json updated)
            started = {**started, EXTENDABLE: now}
        differ = [f"--{name.replace('_', '-')} {started.get(name)!r} (now {flags.get(name)!r})"
                  for name in sorted(set(started) | set(flags))
                  if started.get(name) != flags.get(name)]
        if differ:
            raise ValueError(
                f"`--output-dir` {self.output_dir!r} holds a run started with other flags: "
                f"{'; '.join(differ)}. Run the same command to resume it (or to see its "
                "results), or use another --output-dir.")

    def _history(self):
        """The logged epochs the backup covers; rows of later epochs (logged before a kill,
        not yet backed up) are removed, as they will run again."""
        if not os.path.exists(self.csv_log):
            return []
        with open(self.csv_log, newline="", encoding="utf-8") as file:
            rows = [row for row in csv.DictReader(file) if int(row["epoch"]) < self.initial_epoch]
        fields = list(rows[0]) if rows else []
        with open(self.csv_log, "w", newline="", encoding="utf-8") as file:
            if rows:
                writer = csv.DictWriter(file, fields)
                writer.writeheader()
                writer.writerows(rows)
        return [{key: float(value) for key, value in row.items() if value != ""} for row in rows]

    @property
    def started(self):
        """Whether a process began training here: its flags and artefacts are recorded."""
        return self.resumed or os.path.exists(self.path(FLAGS_FILE))

    def write_at_start(self, name, save):
        """`save(path)` writes an artefact of the run (its tokenizer, say) to `<output-dir>/
        <name>` when training starts, with the flags: a start that fails before leaves
        nothing that a later run in the folder could pick up."""
        self._written_at_start.append((name, save))

    @property
    def start_step(self):
        """The first training step this process runs (where its data must start)."""
        return self.initial_epoch * self.steps_per_epoch

    @property
    def resumed(self):
        return self.initial_epoch > 0

    def callbacks(self):
        best = min((row[self.monitor] for row in self.history if self.monitor in row),
                   default=None)
        # The backup comes last: an epoch it covers has been logged and checkpointed (a kill
        # between the two makes the next process redo that epoch and its log row).
        return [
            EpochTimer(),
            keras.callbacks.CSVLogger(self.csv_log, append=True),
            keras.callbacks.ModelCheckpoint(self.best_weights, monitor=self.monitor,
                                            save_best_only=True, save_weights_only=True,
                                            initial_value_threshold=best),
            keras.callbacks.TensorBoard(self.tensorboard_dir),
            self.stopper,
            ResumableBackup(self.backup_dir),
        ]

    def diagnostics(self, model, probe, every):
        """`[MemoryDiagnostics]` on `probe` every `every` steps, or `[]` when `every` is 0 or
        the model has no fast weights."""
        if not every or memory_model(model) is None:
            return []
        self.memory_diagnostics = MemoryDiagnostics(
            probe, self.path("tensorboard", "memory"), self.path("memory_diagnostics"),
            every=every, start_step=self.start_step)
        return [self.memory_diagnostics]

    def fit(self, model, data, validation_data, callbacks=(), verbose="auto"):
        """`model.fit` for the remaining epochs; returns the whole run's per-epoch history
        (earlier processes' epochs included). `fit_seconds`: this process's wall time."""
        start = time.time()
        if not self.started:  # only now: a failed start records nothing
            for name, save in self._written_at_start:
                shutil.rmtree(self.path(name), ignore_errors=True)  # a failed start's, if any
                save(self.path(name))
            if self.flags is not None:
                write_json(self.path(FLAGS_FILE), self.flags)
        elif self.extended_from is not None:
            print(f"Extending {self.output_dir} from {self.extended_from} to "
                  f"{self.flags[EXTENDABLE]} steps.", file=sys.stderr)
            write_json(self.path(FLAGS_FILE), self.flags)
        if self.stopper.reason is None and self.initial_epoch < self.epochs:
            if self.resumed:
                print(f"Resuming {self.output_dir} at step {self.start_step} "
                      f"(epoch {self.initial_epoch} of {self.epochs}).", file=sys.stderr)
            model.fit(data, validation_data=validation_data, epochs=self.epochs,
                      steps_per_epoch=self.steps_per_epoch, shuffle=False,
                      callbacks=list(callbacks) + self.callbacks(), verbose=verbose)
        else:  # a finished run: its final state, for the results and the preset
            print(f"{self.output_dir} has finished training "
                  f"({self.stopper.reason or 'all steps done'}).", file=sys.stderr)
            ResumableBackup(self.backup_dir).restore(model)
        self.fit_seconds = time.time() - start
        self.history = self._read_log()
        return self.history

    @property
    def step_seconds(self):
        """The median training time of a step over the epochs this process ran after its
        first (which also traces and compiles); None without such epochs."""
        times = [row["train_seconds"] for row in self.history
                 if row["epoch"] > self.initial_epoch and "train_seconds" in row]
        return statistics.median(times) / self.steps_per_epoch if times else None

    def _read_log(self):
        if not os.path.exists(self.csv_log):
            return []
        with open(self.csv_log, newline="", encoding="utf-8") as file:
            return [{key: float(value) for key, value in row.items() if value != ""}
                    for row in csv.DictReader(file)]

    def save_preset(self, model, *, command, data, steps, metrics):
        """The final model as a keras-hub preset, with how it was made in `metadata.json`."""
        model.save_to_preset(self.preset_dir)
        record_training(self.preset_dir, command=command, data=data, steps=steps,
                        metrics=metrics)
        return self.preset_dir

    def write_results(self, results):
        diagnostics = self.memory_diagnostics
        results = {"output_dir": self.output_dir, "checkpoints": self.backup_dir,
                   "best_weights": self.best_weights, "csv_log": self.csv_log,
                   "tensorboard": self.tensorboard_dir, "stopped": self.stopper.reason,
                   "fit_seconds": self.fit_seconds, "step_seconds": self.step_seconds,
                   "memory_diagnostics": diagnostics.plot() if diagnostics else None,
                   **results}
        write_json(self.path("results.json"), results)
        return results

    def plot_learning_curves(self, metrics=("loss",), filename="learning_curves.png",
                             title=None, log_scale=True):
        """Training and evaluation curves against the training step, from the CSV log."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        steps = [(row["epoch"] + 1) * self.steps_per_epoch for row in self.history]
        figure, axes = pyplot.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5),
                                       squeeze=False)
        for axis, metric in zip(axes[0], metrics):
            for name, label in ((metric, "training"), (f"val_{metric}", "evaluation")):
                values = [row.get(name) for row in self.history]
                if any(v is not None for v in values):
                    axis.plot(steps, values, label=label)
            axis.set_xlabel("training step")
            axis.set_ylabel(metric)
            if log_scale:
                axis.set_yscale("log")
            axis.legend()
        if title:
            figure.suptitle(title)
        figure.tight_layout()
        path = self.path(filename)
        figure.savefig(path, dpi=100)
        pyplot.close(figure)
        return path
