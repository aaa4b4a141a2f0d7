"""`make demo`: train a Delta Net and a Linear Transformer on the paper's synthetic setting 2
with `fwp-train`, and show what a training run leaves behind.

Setting 2 (Sec. 6.1, Fig. 3): sequences of L = 2S writes where keys are re-assigned; a query
asks for the latest value of its key. The delta rule can replace what a key holds, the sum
rule only adds to it, so the Delta Net reaches ~0 loss and the Linear Transformer stays on a
plateau. Both use DPFP-1 features, as in Fig. 3; the paper's stopping rule applies (loss
below 0.001, or no improvement for 1,000 steps). About two minutes on 2 CPU cores.

    python -m fwp_keras.training.demo --output-dir demo_output
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

MODELS = ("delta_net", "linear_transformer")


def train_command(model, args):
    return ["fwp-train", "synthetic", "--setting", "2", "--num-keys", str(args.num_keys),
            "--model", model, "--feature-map", "dpfp", "--max-steps", str(args.max_steps),
            "--eval-every", str(args.eval_every), "--seed", str(args.seed), "--verbose", "2",
            "--output-dir", os.path.join(args.output_dir, model)]


def train(command):
    """Runs `fwp-train` as a user would (this interpreter's module, so no PATH is needed)."""
    print("$ " + " ".join(command), flush=True)
    start = time.time()
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ}
    with subprocess.Popen([sys.executable, "-m", "fwp_keras.training", *command[1:]],
                          stdout=subprocess.PIPE, text=True, env=env) as process:
        for line in process.stdout:  # Keras' progress; the results JSON at the end is read
            if line.startswith("{"):  # from results.json instead
                break
            print("  " + line, end="", flush=True)
        process.stdout.read()
    if process.returncode:
        raise SystemExit(f"fwp-train failed (exit status {process.returncode}).")
    return time.time() - start


def read_run(output_dir):
    with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as file:
        results = json.load(file)
    with open(results["csv_log"], newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return results, rows


def plot(runs, eval_every, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(6, 4))
    for model, (results, rows) in runs.items():
        steps = [(int(row["epoch"]) + 1) * eval_every for row in rows]
        axis.plot(steps, [float(row["val_loss"]) for row in rows],
                  label=f"{model} ({results['update_rule']} rule)")
    axis.axhline(0.001, color="grey", linestyle=":", label="stopping threshold")
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("evaluation loss")
    axis.set_title(f"Setting 2 (keys re-assigned), S = {results['num_keys']}, DPFP-1")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--num-keys", type=int, default=20, help="S (default 20, Fig. 3)")
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    runs, seconds = {}, {}
    for model in MODELS:
        seconds[model] = train(train_command(model, args))
        runs[model] = read_run(os.path.join(args.output_dir, model))

    print(f"\nSynthetic setting 2, S = {args.num_keys} (L = {2 * args.num_keys}); the best "
          f"constant prediction scores {1 - 1 / args.num_keys:.3f}.")
    print(f"{'model':<20}{'rule':<7}{'steps':>7}{'eval loss':>11}{'accuracy':>10}"
          f"{'time':>8}  stopped")
    for model, (results, _) in runs.items():
        print(f"{model:<20}{results['update_rule']:<7}{results['steps']:>7}"
              f"{results['eval_loss']:>11.4f}{results['eval_accuracy']:>10.3f}"
              f"{seconds[model]:>7.0f}s  {results['stopped'] or 'at --max-steps'}")
    figure = plot(runs, args.eval_every, os.path.join(args.output_dir, "update_rules.png"))
    print(f"\nLearning curves of both: {figure}")
    for model, (results, _) in runs.items():
        print(f"{model}:")
        for name in ("checkpoints", "csv_log", "tensorboard", "preset", "plot",
                     "memory_diagnostics"):
            print(f"  {name:<19}{results[name]}")
    print(f"\ntensorboard --logdir {args.output_dir}    # the curves and the memory diagnostics")
    print("Run a command again: it resumes from its last checkpoint (or reports it is done).")


if __name__ == "__main__":
    main()
