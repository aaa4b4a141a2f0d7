"""The training pipeline end to end: `fwp-train lm` throughput, and the memory diagnostics'
overhead (CPU, TensorFlow).

Each measurement is one fresh `python -m fwp_keras.training lm` process on WikiText-2's
`wiki.valid.tokens` (word-level vocabulary of 8,192, the CLI's default model: 2 layers,
hidden 128, 4 heads, feed-forward 512), everything as a user runs it: text files -> tokens ->
`tf.data` segments -> `fit` with Adam, clipping, the CSV/TensorBoard/checkpoint callbacks.
The step time is that of `results.json` (`step_seconds`): the median over the epochs after the
first (which traces and compiles) of an epoch's training time (the `EpochTimer` column of
`log.csv`, evaluation excluded) divided by its steps; tokens/s = B L / step time. Runs of the
compared configurations are interleaved round-robin, `--repeats` times; the medians are
reported.

- throughput: Delta Net vs the softmax `TransformerCausalLM` at L = 256 (batch 16) and
  L = 2,048 (batch 2): the same tokens per batch; diagnostics off.
- diagnostics: the Delta Net at L = 256 with `--diagnostics-every 0` (off), 100 (the default)
  and 10; overhead = step time / step time without - 1.

    KERAS_BACKEND=tensorflow python -m benchmarks.training        # `make bench-training`

Writes markdown tables to stdout and `benchmarks/results/training.{json,md}`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

from benchmarks.chunked_memory import _markdown
from fwp_keras.datasets import wikitext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LABELS = {"delta_net": "Delta Net", "transformer": "Transformer (softmax)"}


def train(model, length, batch, steps_per_epoch, epochs, diagnostics_every, timeout):
    with tempfile.TemporaryDirectory() as output_dir:
        # WikiText-2's valid split (shipped) as the file to train on: a plain --train run.
        data = os.path.join(output_dir, "wiki.valid.tokens")
        with open(data, "w", encoding="utf-8") as file:
            file.write(wikitext.load_data("valid"))
        command = [sys.executable, "-m", "fwp_keras.training", "lm", "--train", data,
                   "--vocabulary-size", "8192", "--model", model,
                   "--sequence-length", str(length), "--batch-size", str(batch),
                   "--eval-every", str(steps_per_epoch),
                   "--max-steps", str(steps_per_epoch * epochs), "--eval-batches", "1",
                   "--diagnostics-every", str(diagnostics_every), "--verbose", "0",
                   "--output-dir", os.path.join(output_dir, "run")]
        env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
        try:
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"skipped": f"timed out after {timeout} s"}
        if done.returncode:
            return {"skipped": " / ".join(done.stderr.strip().splitlines()[-3:])}
        with open(os.path.join(output_dir, "run", "results.json"), encoding="utf-8") as file:
            results = json.load(file)
        measured = {"step_seconds": results["step_seconds"],
                    "tokens_per_second": results["train_tokens_per_second"]}
        if diagnostics_every:  # each log's own time; the first one also traces
            with open(os.path.join(output_dir, "run", "memory_diagnostics.jsonl")) as file:
                logs = [json.loads(line)["seconds"] for line in file]
            measured["log_seconds"] = statistics.median(logs[1:]) if len(logs) > 1 else None
    return measured


def measure(configs, repeats, timeout):
    """Runs every config `repeats` times, interleaved; returns the medians and the runs."""
    runs = {key: [] for key in configs}
    for repeat in range(repeats):
        for key, config in configs.items():
            result = train(**config, timeout=timeout)
            print(f"[{repeat + 1}/{repeats}] {key}: {result}", file=sys.stderr, flush=True)
            runs[key].append(result)
    medians = {}
    for key, results in runs.items():
        good = [r["step_seconds"] for r in results if "step_seconds" in r]
        medians[key] = statistics.median(good) if good else None
    return medians, runs


SHAPES = ((256, 16, 20), (2048, 2, 10))  # L, B, steps an epoch
INTERVALS = (0, 100, 10)


def run_throughput(args):
    medians, runs = measure(
        {f"{model} L={length}": dict(model=model, length=length, batch=batch,
                                     steps_per_epoch=steps, epochs=4, diagnostics_every=0)
         for length, batch, steps in SHAPES for model in LABELS},
        args.repeats, args.timeout)
    return {"step_seconds": medians, "runs": runs}


def run_diagnostics(args):
    medians, runs = measure(
        {f"every={every}": dict(model="delta_net", length=256, batch=16, steps_per_epoch=100,
                                epochs=2, diagnostics_every=every) for every in INTERVALS},
        args.repeats, args.timeout)
    log_seconds = {key: statistics.median(r["log_seconds"] for r in results
                                          if r.get("log_seconds"))
                   for key, results in runs.items() if any(r.get("log_seconds")
                                                          for r in results)}
    return {"step_seconds": medians, "log_seconds": log_seconds, "runs": runs}


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


def throughput_markdown(part):
    seconds, lines = part["step_seconds"], []
    for length, batch, _ in SHAPES:
        softmax = seconds[f"transformer L={length}"]
        for model in LABELS:
            s = seconds[f"{model} L={length}"]
            lines.append([LABELS[model], str(length), str(batch), _ms(s),
                          "-" if s is None else f"{batch * length / s:,.0f}",
                          "-" if not (s and softmax) else f"{softmax / s:.2f}"])
    return ("### fwp-train lm throughput (end to end, diagnostics off)\n\n" + _markdown(
        ["model", "L", "B", "ms / step", "tokens / s", "softmax time / this"], lines))


def diagnostics_markdown(part):
    seconds, logs = part["step_seconds"], part["log_seconds"]
    base = seconds["every=0"]
    lines = []
    for every in INTERVALS:
        s, log = seconds[f"every={every}"], logs.get(f"every={every}")
        lines.append([str(every), _ms(s),
                      "-" if not (s and base) else f"{(s / base - 1) * 100:+.1f}%",
                      _ms(log), "-" if not (log and base and every) else
                      f"{log / (every * base) * 100:.1f}%"])
    return ("### Memory diagnostics overhead (Delta Net, L = 256, B = 16)\n\n" + _markdown(
        ["--diagnostics-every", "ms / step", "vs off (A/B)", "ms / log",
         "log / (interval x step)"], lines))


PARTS = {"throughput": (run_throughput, throughput_markdown),
         "diagnostics": (run_diagnostics, diagnostics_markdown)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                        help="what to measure; the others keep their recorded results")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--output-dir", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "training.json")
    recorded = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            recorded = json.load(file)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(),
               "python": platform.python_version()}
    for name in args.parts:
        recorded[name] = {**PARTS[name][0](args), "repeats": args.repeats, "machine": machine}
    markdown = "\n\n".join(PARTS[name][1](recorded[name]) for name in PARTS
                            if name in recorded) + "\n"
    print(markdown)
    with open(os.path.join(args.output_dir, "training.md"), "w", encoding="utf-8") as file:
        file.write(markdown)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(recorded, file, indent=2)


if __name__ == "__main__":
    main()
