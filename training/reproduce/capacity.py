"""`fwp-reproduce capacity`: the paper's Figure 2 (Sec. 6.1, setting 1).

Associative retrieval with `L = S` distinct keys: the final evaluation loss against the number
of unique keys `S`, for softmax attention, the Linear Transformer (ELU+1, `d_dot = d_key`),
FAVOR+ (`d_dot = 2m`) and DPFP-nu (`d_dot = 2 nu d_key`). Every point is one
`fwp-train synthetic --setting 1` run with the paper's stopping rule (evaluation loss below
0.001, or no improvement for 1,000 steps). The claim: a linear memory of `d_dot` dimensions
starts failing near `S = d_dot`, FAVOR+ never reaches zero, softmax is best.

    fwp-reproduce capacity --output-dir runs/capacity                    # the paper's grid
    fwp-reproduce capacity --output-dir runs/capacity_k16 --key-dim 16 \\
        --num-keys 10 20 30 40 60 80 100 120 --favor-features 16 32 128    # scaled down
"""

import math
import os

from fwp_keras.training.arguments import check_positive
from fwp_keras.training.reproduce import runs

# Figure 2's x axis.
PAPER_NUM_KEYS = (20, 40, 60, 80, 100, 200, 300, 400, 500, 600)
SOLVED = 0.01  # an evaluation loss this small answers nearly every query exactly


def add_arguments(parser):
    parser.add_argument("--num-keys", type=int, nargs="+", default=list(PAPER_NUM_KEYS),
                        help="the values of S (default: the paper's grid, 20 ... 600)")
    parser.add_argument("--key-dim", type=int, default=64, help="d_key (the paper's 64)")
    parser.add_argument("--models", nargs="+", choices=("softmax", "linear", "favor", "dpfp"),
                        default=["softmax", "linear", "favor", "dpfp"])
    parser.add_argument("--favor-features", type=int, nargs="+", default=[64, 128, 512],
                        help="FAVOR+'s m values (the paper's 64 128 512)")
    parser.add_argument("--dpfp-nu", type=int, nargs="+", default=[1, 2, 3],
                        help="DPFP's nu values (the paper's 1 2 3)")
    runs.add_training_arguments(parser)


def configurations(args):
    """`[(name, label, d_dot, fwp-train flags)]` in the order of `--models`."""
    found = []
    for model in args.models:
        if model == "softmax":
            found.append(("softmax", "Softmax", None, ["--model", "transformer"]))
        elif model == "linear":
            found.append(("linear", "Linear (ELU+1)", args.key_dim,
                          ["--model", "linear_transformer"]))
        elif model == "favor":
            found += [(f"favor_m{m}", f"FAVOR+ m={m}", 2 * m,
                       ["--model", "performer", "--num-features", str(m)])
                      for m in args.favor_features]
        else:
            found += [(f"dpfp_nu{nu}", f"DPFP nu={nu}", 2 * nu * args.key_dim,
                       ["--model", "dpfp", "--nu", str(nu)]) for nu in args.dpfp_nu]
    return found


def run(args):
    check_positive(args, ("key_dim",))
    for name in ("num_keys", "favor_features", "dpfp_nu"):
        if min(getattr(args, name)) < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be integers >= 1. "
                             f"Received: {getattr(args, name)}")
    rows = runs.reported_runs(args.output_dir, "capacity",
                              key=lambda row: (row["name"], row["num_keys"]),
                              key_dim=args.key_dim)
    for num_keys in sorted(set(args.num_keys)):
        for name, label, d_dot, flags in configurations(args):
            argv = ["synthetic", "--setting", "1", "--num-keys", str(num_keys),
                    "--key-dim", str(args.key_dim), *flags, *runs.training_flags(args)]
            runs.fill_row(rows, (name, num_keys), argv,
                          os.path.join(args.output_dir, "runs", f"{name}_S{num_keys}"),
                          lambda results: runs.summary(results, name=name, label=label,
                                                       d_dot=d_dot, num_keys=num_keys,
                                                       argv=argv))
            write(args, list(rows.values()))
    return write(args, list(rows.values()))


def solved(row):
    return math.isfinite(row["eval_loss"]) and row["eval_loss"] < SOLVED


def capacities(rows):
    """Per model: the largest S solved (loss < SOLVED) below the smallest S not solved."""
    found = {}
    for name in dict.fromkeys(row["name"] for row in rows):
        mine = sorted((row for row in rows if row["name"] == name), key=lambda r: r["num_keys"])
        first_failure = min((row["num_keys"] for row in mine if not solved(row)), default=None)
        below = [row["num_keys"] for row in mine if solved(row)
                 and (first_failure is None or row["num_keys"] < first_failure)]
        found[name] = {"label": mine[0]["label"], "d_dot": mine[0]["d_dot"],
                       "largest_solved": max(below, default=None),
                       "first_failed": first_failure}
    return found


def write(args, rows):
    grid = sorted({row["num_keys"] for row in rows})
    names = list(dict.fromkeys(row["name"] for row in rows))
    loss = {(row["name"], row["num_keys"]): row["eval_loss"] for row in rows}
    found = capacities(rows)
    table = runs.markdown_table(
        ["model", "d_dot", *[f"S={s}" for s in grid], f"solved (loss < {SOLVED}) up to",
         "fails from"],
        [[found[name]["label"], found[name]["d_dot"] or "-",
          *[f"{loss[name, s]:.4f}" if (name, s) in loss else "" for s in grid],
          found[name]["largest_solved"] or "-", found[name]["first_failed"] or "-"]
         for name in names])
    minutes = sum(row["train_minutes"] for row in rows)
    markdown = (f"Final evaluation loss, setting 1 (L = S distinct keys), d_key = "
                f"{args.key_dim}; {len(rows)} runs, {minutes:.1f} min of training.\n\n{table}")
    plot_path = plot(args, rows, names)
    report = {"experiment": "capacity", "figure": "Figure 2", "key_dim": args.key_dim,
              "solved_below": SOLVED, "capacities": found, "runs": rows, "plot": plot_path,
              "training_minutes": minutes}
    return runs.write_report(args.output_dir, "capacity", report, markdown)


def plot(args, rows, names):
    figure, axis = runs.new_plot()
    for index, name in enumerate(names):
        mine = sorted((row for row in rows if row["name"] == name), key=lambda r: r["num_keys"])
        color = f"C{index}"
        axis.plot([row["num_keys"] for row in mine],
                  [max(row["eval_loss"], 1e-6) for row in mine], "o-", color=color,
                  label=mine[0]["label"] + (f" (d_dot {mine[0]['d_dot']})"
                                            if mine[0]["d_dot"] else ""))
        if mine[0]["d_dot"] and mine[0]["d_dot"] <= max(row["num_keys"] for row in rows):
            axis.axvline(mine[0]["d_dot"], color=color, linestyle=":", linewidth=1)
    return runs.save_plot(figure, axis, os.path.join(args.output_dir, "capacity.png"),
                          xlabel="number of unique keys S", ylabel="final evaluation loss",
                          title=f"Capacity (setting 1), d_key = {args.key_dim}; dotted: d_dot")
