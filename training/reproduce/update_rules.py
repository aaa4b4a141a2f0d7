"""`fwp-reproduce update-rules`: the paper's Figure 3 (Sec. 6.1, setting 2).

Associative retrieval with `L = 2S` writes where keys are re-assigned (a query asks for its
key's latest value), `S = 20`, DPFP-1 features: the learning curves of the sum rule, the delta
rule with sum normalisation (the paper's), and Schlag et al. (2021)'s delta rule without
normalisation, on tanh and on DPFP features. The claim: only the delta rule converges to ~0
loss. Each curve is one `fwp-train synthetic --setting 2` run with the paper's stopping rule.

    fwp-reproduce update-rules --output-dir runs/update_rules
"""

import os

from fwp_keras.training.arguments import check_positive
from fwp_keras.training.reproduce import runs

DPFP1 = ["--feature-map", "dpfp", "--nu", "1"]
# (name, label, fwp-train synthetic flags)
RULES = (
    ("sum", "Sum rule (DPFP-1)", ["--model", "dpfp", "--nu", "1"]),
    ("delta", "Delta rule, sum normalisation (DPFP-1)", ["--model", "delta_net", *DPFP1]),
    ("schlag_tanh", "Schlag et al. (2021), tanh", ["--model", "schlag_2021"]),
    ("schlag_dpfp", "Schlag et al. (2021), DPFP-1", ["--model", "schlag_2021", *DPFP1]),
)


def add_arguments(parser):
    parser.add_argument("--num-keys", type=int, default=20, help="S (the paper's 20)")
    parser.add_argument("--rules", nargs="+", choices=[name for name, _, _ in RULES],
                        default=[name for name, _, _ in RULES])
    runs.add_training_arguments(parser)


def run(args):
    check_positive(args, ("num_keys",))
    rows = runs.reported_runs(args.output_dir, "update_rules", key=lambda row: row["name"],
                              num_keys=args.num_keys)
    for name, label, flags in RULES:
        if name not in args.rules:
            continue
        argv = ["synthetic", "--setting", "2", "--num-keys", str(args.num_keys), *flags,
                *runs.training_flags(args)]
        runs.fill_row(rows, name, argv, os.path.join(args.output_dir, "runs", name),
                      lambda results: {**runs.summary(results, name=name, label=label,
                                                      argv=argv),
                                       "curve": runs.curve(results, args.eval_every)})
        write(args, list(rows.values()))
    return write(args, list(rows.values()))


def write(args, rows):
    table = runs.markdown_table(
        ["update rule", "final eval loss", "best eval loss", "accuracy", "steps", "stopped",
         "train min"],
        [[row["label"], f"{row['eval_loss']:.4f}", f"{row['best_eval_loss']:.4f}",
          f"{row['eval_accuracy']:.3f}", row["steps"], row["stopped"] or "at --max-steps",
          f"{row['train_minutes']:.1f}"] for row in rows])
    markdown = (f"Setting 2 (L = 2S writes, keys re-assigned), S = {args.num_keys}.\n\n{table}")
    plot_path = plot(args, rows)
    report = {"experiment": "update-rules", "figure": "Figure 3", "num_keys": args.num_keys,
              "runs": rows, "plot": plot_path}
    return runs.write_report(args.output_dir, "update_rules", report, markdown)


def plot(args, rows):
    figure, axis = runs.new_plot()
    for row in rows:
        steps, losses = zip(*row["curve"]) if row["curve"] else ((), ())
        axis.plot(steps, losses, label=row["label"])
    axis.axhline(args.stop_below, color="grey", linestyle=":", label="stopping threshold")
    return runs.save_plot(figure, axis, os.path.join(args.output_dir, "update_rules.png"),
                          xlabel="training step", ylabel="evaluation loss",
                          title=f"Update rules (setting 2), S = {args.num_keys}")
