"""The measured comparison of the translation families on Multi30k En->De (the paper's
Sec. 6.2, Table 1, scaled to this machine): every family at the same size and training budget,
DPFP at two values of nu and the Performer at two values of m.

Each configuration is one `fwp-train mt` run (train on `train`, model selection on the `val`
loss, BLEU and chrF of beam search on all of `val`), into `--runs-dir/<name>/`; runs are
resumable, a finished one is read back, so the command can be stopped and started again. All
runs share one joint SentencePiece vocabulary (trained by the first). Writes the table to
stdout and `benchmarks/results/translation.{json,md}` after every run.

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
# (name, --model, extra flags, d_dot: the key size of each head's memory)
CONFIGURATIONS = [
    ("transformer", "transformer", [], "softmax"),
    ("linear_transformer", "linear_transformer", [], "32"),
    ("delta_net", "delta_net", [], "32"),
    ("dpfp_nu1", "dpfp", ["--nu", "1"], "64"),
    ("performer_m16", "performer", ["--num-features", "16"], "32"),
    ("dpfp_nu3", "dpfp", ["--nu", "3"], "192"),
    ("performer_m64", "performer", ["--num-features", "64"], "128"),
]
# The same size and budget for every run (see README, "Translation").
SETTINGS = ["--num-layers", "2", "--hidden-dim", "128", "--num-heads", "4",
            "--intermediate-dim", "512", "--vocabulary-size", "4000", "--max-tokens", "4096",
            "--learning-rate", "2e-3", "--warmup-steps", "300", "--max-steps", "1200",
            "--eval-every", "300", "--num-beams", "4", "--diagnostics-every", "0"]


def command(name, model, extra, runs_dir):
    vocabulary = os.path.join(runs_dir, "transformer", "tokenizer")
    tokenizer = ["--tokenizer", vocabulary] if name != "transformer" else []
    return [sys.executable, "-m", "fwp_keras.training", "mt",
            "--dataset", "multi30k", "--model", model, *extra, *SETTINGS, *tokenizer, "--verbose", "2",
            "--output-dir", os.path.join(runs_dir, name)]


def table(rows):
    header = ["model", "d_dot", "parameters", "steps", "val loss", "val BLEU", "val chrF",
              "train min", "s / step"]
    return _markdown(header, [[
        row["name"], row["d_dot"], f"{row['parameters'] / 1e6:.2f} M", str(row["steps"]),
        f"{row['validation_loss']:.3f}", f"{row['validation_bleu']:.2f}",
        f"{row['validation_chrf']:.2f}", f"{row['train_minutes']:.1f}",
        f"{row['step_seconds']:.2f}",
    ] for row in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs/translation")
    parser.add_argument("--only", nargs="+", help="configuration names to run")
    args = parser.parse_args(argv)
    rows = []
    for name, model, extra, d_dot in CONFIGURATIONS:
        if args.only and name not in args.only:
            continue
        argv = command(name, model, extra, args.runs_dir)
        results_file = os.path.join(args.runs_dir, name, "results.json")
        if not os.path.exists(results_file):
            print("$", shlex.join(argv), file=sys.stderr, flush=True)
            subprocess.run(argv, check=True,
                           env=dict(os.environ, KERAS_BACKEND="tensorflow",
                                    TF_CPP_MIN_LOG_LEVEL="2"))
        with open(results_file, encoding="utf-8") as file:
            result = json.load(file)
        # Training time from the run's log (a resumed run's results count only its last process).
        with open(os.path.join(args.runs_dir, name, "log.csv"), newline="") as file:
            epochs = [float(row["train_seconds"]) for row in csv.DictReader(file)]
        eval_every = int(SETTINGS[SETTINGS.index("--eval-every") + 1])
        rows.append({"name": name, "d_dot": d_dot, "parameters": result["parameters"],
                     "steps": result["steps"], "validation_loss": result["validation_loss"],
                     "validation_bleu": result["validation_bleu"],
                     "validation_chrf": result["validation_chrf"],
                     "train_minutes": sum(epochs) / 60,
                     "step_seconds": statistics.median(epochs[1:] or epochs) / eval_every,
                     "bleu_signature": result["bleu_signature"],
                     "command": shlex.join(["fwp-train", *argv[3:]])})
        report = {"machine": f"{platform.processor() or platform.machine()}, "
                             f"{os.cpu_count()} cores", "settings": SETTINGS, "runs": rows}
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", "translation.json"), "w") as file:
            json.dump(report, file, indent=2)
        with open(os.path.join(HERE, "results", "translation.md"), "w") as file:
            file.write(table(rows) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
