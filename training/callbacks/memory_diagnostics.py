"""MemoryDiagnostics: what each fast weight memory writes and removes, over training."""

import json
import os
import time

import keras
import numpy as np

STATISTICS = {  # name: plot title
    "value_norm": "||v||, the value written",
    "retrieved_norm": "||vbar||, the value retrieved at k",
    "update_norm": "||beta (v - vbar)||, the update",
    "update_ratio": "||beta (v - vbar)|| / ||v||",
    "state_norm": "||S||, fast weights at the end",
    "normalizer": "z . q at the end (attention norm.)",
}


def memory_model(model):
    """What diagnoses `model`'s memories (its `memory_statistics(inputs)`): the model, its
    backbone, or a carried-state wrapper's backbone; None for softmax attention."""
    causal_lm = getattr(model, "causal_lm", None)
    for target in (model, getattr(model, "backbone", None),
                   getattr(causal_lm, "backbone", None)):
        if hasattr(target, "memory_statistics") and getattr(
                target, "memory", "fast_weight") == "fast_weight":
            return target
    return None


class MemoryDiagnostics(keras.callbacks.Callback):
    """Every `every` training steps, runs the memories over a fixed `probe` batch (inputs as
    the model takes them) and logs, per layer and head (means over the probe's real positions):
    the norms of the written value `v`, the retrieved value `vbar`, the update
    `beta (v - vbar)`, their ratio (how much of a write replaces what was there; 1 for the sum
    rule, which only adds), the fast weights' norm `||S||` after the last position and, under
    attention normalisation, `z . q` there (it grows with the number of steps, Sec. 4.2).

    To TensorBoard (`log_dir`, under `memory/`), to `<path>.jsonl` (one row per log; a resumed
    run keeps the rows up to its start step) and, at the end of training, to `<path>.png`.
    One forward pass of a few sequences per log: see `benchmarks/` for its measured overhead.
    """

    def __init__(self, probe, log_dir, path, every=100, start_step=0):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an integer >= 1. Received: {every!r}")
        self.probe = probe
        self.log_dir = log_dir
        self.path = path
        self.every = every
        self.rows = self._read_rows(start_step)
        self._statistics = None
        self._writer = None

    def _read_rows(self, start_step):
        rows = []
        if os.path.exists(f"{self.path}.jsonl"):
            with open(f"{self.path}.jsonl", encoding="utf-8") as file:
                for line in file:
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:  # a line a kill cut short
                        continue
        rows = [row for row in rows if row["step"] <= start_step]
        with open(f"{self.path}.jsonl", "w", encoding="utf-8") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
        return rows

    def on_train_begin(self, logs=None):
        target = memory_model(self.model)
        if target is None:
            raise ValueError(f"{type(self.model).__name__} has no fast weight memory to "
                             "diagnose.")
        self._statistics = target.memory_statistics
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self._statistics = tf.function(target.memory_statistics)
            self._writer = tf.summary.create_file_writer(self.log_dir)

        # Counted here from the optimizer's step at the start: reading it back every batch
        # would wait for the step to finish.
        self._step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self.log(self._step)

    def measure(self):
        """`{statistic: [layers, heads]}` on the probe, now."""
        self.model  # on JAX, reading `self.model` puts fit's current state into the variables
        layers = [{name: np.asarray(keras.ops.convert_to_numpy(value), np.float64)
                   for name, value in stats.items()} for stats in self._statistics(self.probe)]
        mask = None
        if isinstance(self.probe, dict):  # a decoder's memories, in a seq2seq model
            mask = self.probe.get("padding_mask", self.probe.get("decoder_padding_mask"))
        shape = layers[0]["value_norm"].shape[:2]
        mask = np.ones(shape, bool) if mask is None else np.asarray(
            keras.ops.convert_to_numpy(mask), bool)
        def mean(x):  # over the real positions of the probe: [B, T, H] -> [H]
            return (x * mask[..., None]).sum((0, 1)) / mask.sum()

        measured = {name: [] for name in STATISTICS}
        for stats in layers:
            measured["value_norm"].append(mean(stats["value_norm"]))
            measured["retrieved_norm"].append(mean(stats["retrieved_norm"]))
            measured["update_norm"].append(mean(stats["update_norm"]))
            ratio = stats["update_norm"] / np.maximum(stats["value_norm"], 1e-30)
            measured["update_ratio"].append(mean(ratio))
            measured["state_norm"].append(stats["state_norm"][:, -1].mean(0))
            if "normalizer" in stats:
                measured["normalizer"].append(stats["normalizer"][:, -1].mean(0))
        return {name: np.stack(values) for name, values in measured.items() if values}

    def log(self, step):
        start = time.perf_counter()
        measured = self.measure()
        row = {"step": step, "seconds": time.perf_counter() - start,  # its cost, for benchmarks
               **{name: value.tolist() for name, value in measured.items()}}
        self.rows.append(row)
        with open(f"{self.path}.jsonl", "a", encoding="utf-8") as file:
            file.write(json.dumps(row) + "\n")
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default(step=step):
                for name, value in measured.items():
                    for (layer, head), number in np.ndenumerate(value):
                        tf.summary.scalar(f"memory/layer_{layer}/{name}/head_{head}", number)
            self._writer.flush()

    def on_train_end(self, logs=None):
        self.plot()

    def plot(self):
        """The logged statistics against the training step, as `<path>.png` (its path; None
        before the first log)."""
        if not self.rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        names = [name for name in STATISTICS if name in self.rows[-1]]
        steps = [row["step"] for row in self.rows]
        columns = 3
        figure, axes = pyplot.subplots(-(-len(names) // columns), columns,
                                       figsize=(4.5 * columns, 3.2 * -(-len(names) // columns)),
                                       squeeze=False)
        for axis, name in zip(axes.flat, names):
            values = np.array([row[name] for row in self.rows])  # [logs, layers, heads]
            for (layer, head), _ in np.ndenumerate(values[0]):
                axis.plot(steps, values[:, layer, head], label=f"layer {layer} head {head}")
            axis.set_title(STATISTICS[name], fontsize=9)
            axis.set_xlabel("training step")
        for axis in list(axes.flat)[len(names):]:
            axis.axis("off")
        axes.flat[0].legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(f"{self.path}.png", dpi=100)
        pyplot.close(figure)
        return f"{self.path}.png"
