"""The measured comparison of the translation families on Multi30k En->De (the paper's
Sec. 6.2, Table 1, scaled to this machine): every family at the same size and training budget
(DPFP at two values of nu, the Performer at two values of m), beside the reference: a plain
seq2seq Transformer written from keras-hub's layers (`benchmarks/references/
seq2seq_transformer.py`), trained on the same batches, tokenizer and budget.

Each configuration is one run (train on `train`, model selection on the per-token `val` loss,
greedy BLEU and chrF on all of `val`), into `--runs-dir/<name>/`; runs are resumable, a finished
one is read back, so the command can be stopped and started again. All runs share the joint
SentencePiece vocabulary the softmax Transformer's run trains first. Writes the table to stdout
and `benchmarks/results/translation.{json,md}` after every run.

    KERAS_BACKEND=tensorflow python -m benchmarks.translation --runs-dir runs/translation
"""

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys

from benchmarks.chunked_memory import _markdown

HERE = os.path.dirname(os.path.abspath(__file__))
# (name, --model, extra flags, d_dot: the key size of each head's memory); "reference" is the
# keras-hub model of benchmarks/references/seq2seq_transformer.py.
CONFIGURATIONS = [
    ("transformer", "transformer", [], "softmax"),
    ("reference", "reference", [], "softmax"),
    ("linear_transformer", "linear_transformer", [], "32"),
    ("delta_net", "delta_net", [], "32"),
    ("dpfp_nu1", "dpfp", ["--nu", "1"], "64"),
    ("performer_m16", "performer", ["--num-features", "16"], "32"),
    ("dpfp_nu3", "dpfp", ["--nu", "3"], "192"),
    ("performer_m64", "performer", ["--num-features", "64"], "128"),
]
# The same size, recipe and budget for every run (see docs/results.md, "Translation quality").
MODEL = ["--num-layers", "2", "--hidden-dim", "128", "--num-heads", "4",
         "--intermediate-dim", "512"]
RECIPE = ["--max-tokens", "4096", "--learning-rate", "1e-3", "--warmup-steps", "500",
          "--eval-every", "250"]
ZOO_ONLY = ["--vocabulary-size", "4000", "--num-beams", "1", "--diagnostics-every", "0"]


def command(name, model, extra, runs_dir, max_steps, first="transformer"):
    """The run `name` (of `--model` `model`, or the reference); every run but `first` takes
    the vocabulary `first` trained."""
    budget = [*MODEL, *RECIPE, "--max-steps", str(max_steps)]
    vocabulary = os.path.join(runs_dir, first, "tokenizer")
    output = ["--verbose", "2", "--output-dir", os.path.join(runs_dir, name)]
    if model == "reference":
        return [sys.executable, "-m", "benchmarks.references.seq2seq_transformer",
                "--tokenizer", vocabulary, *budget, *extra, *output]
    tokenizer = ["--tokenizer", vocabulary] if name != first else []
    return [sys.executable, "-m", "fwp_keras.training", "mt", "--dataset", "multi30k",
            "--model", model, *budget, *ZOO_ONLY, *extra, *tokenizer, *output]


def table(rows, label="d_dot"):
    """The Markdown table of `rows`; `label` heads the column of each row's `d_dot`."""
    softmax = next((row["validation_bleu"] for row in rows if row["name"] == "transformer"),
                   None)
    header = ["model", label, "parameters", "steps", "val loss / token", "val perplexity",
              "val BLEU (greedy)", "vs softmax", "val chrF", "train min", "s / step"]
    return _markdown(header, [[
        row["name"], row["d_dot"], f"{row['parameters'] / 1e6:.2f} M", str(row["steps"]),
        f"{row['validation_loss']:.3f}", f"{row['validation_perplexity']:.2f}",
        f"{row['validation_bleu']:.2f}",
        f"{row['validation_bleu'] - softmax:+.2f}" if softmax is not None else "-",
        f"{row['validation_chrf']:.2f}", f"{row['train_minutes']:.1f}",
        f"{row['step_seconds']:.2f}",
    ] for row in rows])


def run_rows(configurations, runs_dir, max_steps, report, label="d_dot"):
    """Runs (or reads back) each configuration; writes `benchmarks/results/<report>.{json,md}`
    after each; returns the rows."""
    rows = []
    first = configurations[0][0]
    for name, model, extra, d_dot in configurations:
        argv = command(name, model, extra, runs_dir, max_steps, first)
        results_file = os.path.join(runs_dir, name, "results.json")
        if not os.path.exists(results_file):
            print("$", shlex.join(argv), file=sys.stderr, flush=True)
            subprocess.run(argv, check=True,
                           env=dict(os.environ, KERAS_BACKEND="tensorflow",
                                    TF_CPP_MIN_LOG_LEVEL="2"))
        with open(results_file, encoding="utf-8") as file:
            result = json.load(file)
        # Training time from the run's log (a resumed run's results count only its last process).
        with open(os.path.join(runs_dir, name, "log.csv"), newline="") as file:
            epochs = [float(row["train_seconds"]) for row in csv.DictReader(file)]
        eval_every = int(argv[len(argv) - 1 - argv[::-1].index("--eval-every") + 1])
        rows.append({"name": name, "d_dot": d_dot, "parameters": result["parameters"],
                     "steps": result["steps"], "validation_loss": result["validation_loss"],
                     "validation_perplexity": result["validation_perplexity"],
                     "validation_bleu": result["validation_bleu"],
                     "validation_chrf": result["validation_chrf"],
                     "train_minutes": sum(epochs) / 60,
                     "step_seconds": statistics.median(epochs[1:] or epochs) / eval_every,
                     "bleu_signature": result["bleu_signature"],
                     "command": shlex.join(["fwp-train", *argv[3:]] if model != "reference"
                                           else ["python", *argv[1:]])})
        written = {"machine": f"{platform.processor() or platform.machine()}, "
                              f"{os.cpu_count()} cores", "settings": MODEL + RECIPE + [
                       "--max-steps", str(max_steps)], "runs": rows}
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", f"{report}.json"), "w") as file:
            json.dump(written, file, indent=2)
        with open(os.path.join(HERE, "results", f"{report}.md"), "w") as file:
            file.write(table(rows, label) + "\n")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs/translation")
    parser.add_argument("--only", nargs="+", help="configuration names to run (the first "
                                                  "run, transformer, trains the vocabulary)")
    parser.add_argument("--max-steps", type=int, default=3000, help="every run's budget")
    args = parser.parse_args(argv)
    chosen = [c for c in CONFIGURATIONS if not args.only or c[0] in args.only
              or c[0] == "transformer"]
    print(table(run_rows(chosen, args.runs_dir, args.max_steps, "translation")))


if __name__ == "__main__":
    main()
