"""Capacity and overwriting of a fast weight memory, with no training (paper Section 4).

Schlag, Irie and Schmidhuber (2021), "Linear Transformers Are Secretly Fast Weight Programmers",
Section 4.1 ("Capacity limitation") and Section 4.2 ("Improving the FWP's programming
instruction"): a linear Transformer head is a memory `S` of size `Dk x Dv` that is written with
the sum rule, `S_t = S_{t-1} + k_t^T v_t` (Eq. 17), and read with `o = q S`. Such a memory cannot
hold more than `Dk` associations without interference (there are at most `Dk` mutually
orthogonal keys), and the sum rule can only add, never replace. The delta rule (Eq. 20-23),
`S_t = S_{t-1} + beta_t k_t^T (v_t - k_t S_{t-1})`, first reads what the key currently retrieves
and with `beta_t = 1` replaces it by the new value.

This script shows both effects on random data through the library's own ops and feature maps:

(a) Capacity. Draw `N` random inputs `x` and values `v ~ N(0, I_Dv)`; the keys are
    `k = norm(phi(x))` with `phi` = DPFP-1 (Eq. 37, `Dk = 2 d`) or ELU+1 (Eq. 30, `Dk = d`), the
    input dimension `d` chosen so that both give the same `Dk`. Write all `N` associations into
    one head with `fwp_keras.ops.linear_attention` (sum rule) or `fwp_keras.ops.delta_rule`
    (`beta = 1`), then query the *final* state with every key: `o_i = q_i S_N`, `q_i = k_i`
    (up to a scale, see below).
    The keys are random, not orthogonal: the sum rule's crosstalk grows with `N` from the start,
    about `(N - 1) * mean cos^2(k_i, k_j)`, and passes the signal near `N = 1 / mean cos^2`
    (`= Dk` for isotropic random keys; DPFP's keys come closer to that than ELU+1's, which all
    point into one orthant). The delta rule keeps the error bounded and the most recently written
    associations nearly intact.
(b) Overwriting. Write `M` associations, then the same `M` keys again with new values, and read
    the final state with each key: the sum rule returns the sum of old and new; the delta rule
    returns the new value, exactly for orthonormal keys (also run, as the ideal case), and up to
    the crosstalk of later writes for random ones.

Metric: the retrieval error is the mean squared error per value component between what a key
reads back and the value it should return, averaged over associations and trials. Values are
standard normal, so a memory that returned zeros would score 1.0.

Key normalisation. Two choices are run side by side (`--key-norm`):

* `l2`: `k / ||k||_2`. Unit keys are the setting of the paper's Section 4 arguments: a key reads
  back its own value with weight `k . k = 1`, the sum rule's error is the crosstalk
  `sum_{j != i} (k_i . k_j)^2` (so it grows with `N` times the mean squared overlap of two keys),
  and a delta-rule write with `beta = 1` makes `k` read exactly the new value.
* `sum`: `k / sum_j k_j` (Eq. 29), the paper's choice for its models. For random, untrained keys
  `k . k` is then far below 1 (0.14 for DPFP-1 and 0.02 for ELU+1 at Dk = 64), so a delta-rule
  write with `beta = 1` moves what `k` reads only that fraction of the way to the new value.
  Every key is read with `q = k / (k . k)` (that is `q = k` for unit keys), so that a single
  write of `(k, v)` reads back exactly `v`; `q = k` would return `(k . k) v` and bury the
  comparison under a constant factor. The numbers are printed as measured; in a trained model the
  key projections, beta and the output projection can adapt, random keys cannot.

Run:  python -m fwp_keras.training.capacity_demo --output-dir demo_output
It prints the tables and writes `capacity_demo.png` and `capacity_demo.json` to the output dir.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

from fwp_keras import layers as fwp_layers
from fwp_keras import ops as fwp_ops

RULES = ("sum", "delta")
FEATURE_MAPS = ("dpfp", "elu_plus_one")
KEY_NORMS = ("l2", "sum")
LABELS = {
    "dpfp": "DPFP-1",
    "elu_plus_one": "ELU+1",
    "orthonormal": "orthonormal",
    "sum": "sum rule",
    "delta": "delta rule",
}
# Capacity sweep: N as multiples of Dk.
DEFAULT_CAPACITY_RATIOS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1, 3 / 2, 2, 3, 4)
# Overwriting: M as multiples of Dk (and M = 1).
DEFAULT_OVERWRITE_RATIOS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
PLOT_FLOOR = 1e-12  # errors below this are drawn at it on the log axes


# ---------------------------------------------------------------------------------------------
# Keys, values, and one memory write + read through the library.


def feature_map(name, key_dim):
    """The feature-map layer and the input dimension d that gives `key_dim` features."""
    if name == "dpfp":
        return fwp_layers.DPFP(nu=1), key_dim // 2  # Dk = 2 * nu * d
    if name == "elu_plus_one":
        return fwp_layers.ELUPlusOne(), key_dim  # Dk = d
    raise ValueError(f"Unknown feature map {name!r}")


def make_keys(rng, name, key_norm, trials, length, key_dim):
    """Normalised keys `[trials, length, 1, Dk]` (one head) as float32 NumPy.

    `name` is a feature map applied to standard normal inputs, or `"orthonormal"`: `length <= Dk`
    rows of a random orthogonal matrix (the ideal case of Section 4.1; only with `l2`).
    """
    if name == "orthonormal":
        if key_norm != "l2" or length > key_dim:
            raise ValueError("orthonormal keys exist only with l2 norm and length <= Dk")
        gaussian = rng.standard_normal((trials, key_dim, key_dim))
        keys = np.linalg.qr(gaussian)[0].transpose(0, 2, 1)[:, :length]
        return keys[:, :, None, :].astype("float32")
    layer, input_dim = feature_map(name, key_dim)
    x = rng.standard_normal((trials, length, 1, input_dim)).astype("float32")
    keys = layer(x)
    keys = fwp_layers.l2_normalize(keys) if key_norm == "l2" else fwp_layers.sum_normalize(keys)
    return keras.ops.convert_to_numpy(keys).astype("float32")


def read_queries(keys):
    """The query that reads key `k`: `q = k / (k . k)`, so that `q . k = 1`.

    A single write of `(k, v)` then reads back exactly `v`. With unit (l2) keys this is `q = k`;
    with sum-normalised keys `k . k` is far below 1 and `q = k` would return only `(k . k) v`.
    """
    return keys / np.sum(keys * keys, axis=-1, keepdims=True)


def make_values(rng, trials, length, value_dim):
    return rng.standard_normal((trials, length, 1, value_dim)).astype("float32")


def write_then_read(rule, keys, values, queries):
    """Writes `(keys, values)` in order with `rule`, then reads the final state with `queries`.

    All arrays have one head: `[B, T, 1, D]`. Returns the reads `[B, Tq, Dv]` as NumPy.
    """
    if rule == "sum":
        _, state = fwp_ops.linear_attention(keys, keys, values, return_state=True)
    elif rule == "delta":
        beta = np.ones(keys.shape[:3], "float32")
        _, state = fwp_ops.delta_rule(keys, keys, values, beta, return_state=True)
    else:
        raise ValueError(f"Unknown rule {rule!r}")
    reads = keras.ops.einsum("bthk,bhkv->bthv", queries, state)  # o_i = q_i S_N
    return keras.ops.convert_to_numpy(reads)[:, :, 0]


def squared_error(reads, targets):
    """Per-association squared error `[B, T]`, averaged over the value components."""
    return np.mean((reads - targets[:, :, 0]) ** 2, axis=-1)


def key_statistics(keys):
    """Mean `k . k`, and mean squared cosine of two different keys: the sum rule's crosstalk
    per extra association, relative to the signal (`1/Dk` for isotropic random keys)."""
    k = keys[:, :, 0].astype("float64")
    gram = np.einsum("btk,bsk->bts", k, k)
    norms = np.sqrt(np.diagonal(gram, axis1=1, axis2=2))
    cosines = gram / norms[:, :, None] / norms[:, None, :]
    off_diagonal = ~np.eye(gram.shape[1], dtype=bool)
    return {
        "mean_k_dot_k": float(np.mean(norms**2)),
        "mean_squared_cosine": float(np.mean(cosines[:, off_diagonal] ** 2)),
    }


# ---------------------------------------------------------------------------------------------
# The two experiments.


def capacity_sweep(rng, key_norm, sizes, key_dim, value_dim, trials, recent):
    """(a): retrieval error after writing N associations, for every N in `sizes`.

    For each feature map and rule: `all` (mean over the N associations) and `recent` (mean over
    the `recent` most recently written ones), plus the error of every association by age at the
    largest N (`by_age[0]` = the last one written).
    """
    out = {}
    for name in FEATURE_MAPS:
        out[name] = {rule: {"all": [], "recent": []} for rule in RULES}
        for n in sizes:
            keys = make_keys(rng, name, key_norm, trials, n, key_dim)
            values = make_values(rng, trials, n, value_dim)
            for rule in RULES:
                reads = write_then_read(rule, keys, values, read_queries(keys))
                errors = squared_error(reads, values)
                out[name][rule]["all"].append(float(errors.mean()))
                out[name][rule]["recent"].append(float(errors[:, -recent:].mean()))
                if n == max(sizes):
                    out[name][rule]["by_age"] = errors.mean(axis=0)[::-1].tolist()
        out[name]["keys"] = key_statistics(make_keys(rng, name, key_norm, trials, 256, key_dim))
    return out


def overwrite_sweep(rng, key_norm, sizes, key_dim, value_dim, trials):
    """(b): write M associations, then the same M keys with new values; read the final state.

    Returns, per key set and rule, the error against the new values (`vs_new`) and against the
    old ones (`vs_old`), and (sum rule) against their sum (`vs_old_plus_new`).
    """
    key_sets = FEATURE_MAPS + (("orthonormal",) if key_norm == "l2" else ())
    out = {}
    for name in key_sets:
        out[name] = {rule: {"vs_new": [], "vs_old": [], "vs_old_plus_new": []} for rule in RULES}
        for m in sizes:
            keys = make_keys(rng, name, key_norm, trials, m, key_dim)
            old = make_values(rng, trials, m, value_dim)
            new = make_values(rng, trials, m, value_dim)
            sequence_keys = np.concatenate([keys, keys], axis=1)
            sequence_values = np.concatenate([old, new], axis=1)
            for rule in RULES:
                reads = write_then_read(rule, sequence_keys, sequence_values, read_queries(keys))
                out[name][rule]["vs_new"].append(float(squared_error(reads, new).mean()))
                out[name][rule]["vs_old"].append(float(squared_error(reads, old).mean()))
                out[name][rule]["vs_old_plus_new"].append(
                    float(squared_error(reads, old + new).mean())
                )
    return out


# ---------------------------------------------------------------------------------------------
# Output: tables, plot, JSON.


def _fmt(x):
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.1e}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def capacity_table(result, key_dim):
    sizes = result["capacity_sizes"]
    header = ["N", "N/Dk"] + [
        f"{LABELS[name]} {rule}" for name in FEATURE_MAPS for rule in RULES
    ]
    rows = []
    for i, n in enumerate(sizes):
        row = [str(n), f"{n / key_dim:.3g}"]
        for name in FEATURE_MAPS:
            for rule in RULES:
                errors = result["capacity"][name][rule]
                row.append(f"{_fmt(errors['all'][i])} / {_fmt(errors['recent'][i])}")
        rows.append(row)
    return _table(header, rows)


def overwrite_table(result):
    header = ["keys", "M", "sum rule vs new", "sum rule vs old+new", "delta rule vs new",
              "delta rule vs old"]
    rows = []
    for name, per_rule in result["overwrite"].items():
        for i, m in enumerate(result["overwrite_sizes"]):
            rows.append([
                LABELS[name], str(m),
                _fmt(per_rule["sum"]["vs_new"][i]),
                _fmt(per_rule["sum"]["vs_old_plus_new"][i]),
                _fmt(per_rule["delta"]["vs_new"][i]),
                _fmt(per_rule["delta"]["vs_old"][i]),
            ])
    return _table(header, rows)


def summary(results, key_dim):
    """A few lines that read the tables (only sizes that were run are quoted)."""
    lines = []

    def value(result, kind, name, rule, metric, n):
        sizes = result[f"{kind}_sizes"]
        return result[kind][name][rule][metric][sizes.index(n)] if n in sizes else None

    for key_norm, result in results.items():
        lines.append(f"keys normalised with {key_norm!r}:")
        for name in FEATURE_MAPS:
            picks = [(f"N = {n}", value(result, "capacity", name, "sum", "all", n))
                     for n in (key_dim // 4, key_dim, 4 * key_dim)]
            quoted = ", ".join(f"{_fmt(x)} at {label}" for label, x in picks if x is not None)
            cos2 = result["capacity"][name]["keys"]["mean_squared_cosine"]
            if quoted:
                lines.append(f"  {LABELS[name]}: sum-rule error {quoted}; it grows about as "
                             f"(N - 1) * mean cos^2 = (N - 1) * {_fmt(cos2)}, i.e. crosstalk "
                             f"equals the signal near N = {1 / cos2:.0f} (Dk = {key_dim}).")
            n_max = result["capacity_sizes"][-1]
            delta = value(result, "capacity", name, "delta", "recent", n_max)
            total = value(result, "capacity", name, "sum", "recent", n_max)
            lines.append(f"  {LABELS[name]}: after N = {n_max}, the last {result['recent_window']} "
                         f"written read back with error {_fmt(delta)} (delta) vs {_fmt(total)} "
                         "(sum).")
        for name, per_rule in result["overwrite"].items():
            m = max(1, key_dim // 8)
            if m in result["overwrite_sizes"]:
                i = result["overwrite_sizes"].index(m)
                lines.append(f"  overwriting {m} {LABELS[name]} keys: error w.r.t. the new values "
                             f"{_fmt(per_rule['delta']['vs_new'][i])} (delta) vs "
                             f"{_fmt(per_rule['sum']['vs_new'][i])} (sum).")
        if key_norm == "sum":
            k_dot_k = ", ".join(
                f"{_fmt(result['capacity'][n]['keys']['mean_k_dot_k'])} ({LABELS[n]})"
                for n in FEATURE_MAPS
            )
            lines.append(f"  mean k.k = {k_dot_k}: a beta = 1 delta-rule write moves what k "
                         "reads only that fraction of the way to the new value.")
    return "\n".join(lines)


def plot(results, key_dim, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norms = list(results)
    fig, axes = plt.subplots(len(norms), 3, figsize=(16, 4.6 * len(norms)), squeeze=False)
    colors = {"dpfp": "tab:blue", "elu_plus_one": "tab:orange", "orthonormal": "tab:green"}
    styles = {"sum": "-", "delta": "--"}
    floor = lambda values: np.maximum(np.asarray(values), PLOT_FLOOR)  # noqa: E731
    for row, key_norm in zip(axes, norms):
        result = results[key_norm]
        title = ("keys phi(x) / ||phi(x)||_2" if key_norm == "l2"
                 else "keys phi(x) / sum_j phi(x)_j, read with k / (k.k)")

        ax = row[0]
        sizes = result["capacity_sizes"]
        for name in FEATURE_MAPS:
            for rule in RULES:
                ax.plot(sizes, floor(result["capacity"][name][rule]["all"]), styles[rule],
                        color=colors[name], marker="o", ms=3,
                        label=f"{LABELS[name]}, {LABELS[rule]}")
        if key_norm == "l2":
            n = np.asarray(sizes, float)
            ax.plot(n, (n - 1) / key_dim, ":", color="gray",
                    label="sum rule, isotropic unit keys: (N-1)/Dk")
        for dk in sorted({result["key_dims"][name] for name in FEATURE_MAPS}):
            ax.axvline(dk, color="k", lw=0.8)
            ax.text(dk, 0.02, f" Dk={dk}", transform=ax.get_xaxis_transform(), fontsize=8)
        ax.axhline(1.0, color="gray", lw=0.5)
        ax.set(xscale="log", yscale="log", xlabel="N associations written",
               ylabel="retrieval MSE (mean over all N)")
        ax.set_title(f"(a) capacity; {title}", fontsize=9)
        ax.legend(fontsize=7)

        ax = row[1]
        n_max = max(sizes)
        for name in FEATURE_MAPS:
            for rule in RULES:
                by_age = result["capacity"][name][rule]["by_age"]
                ax.plot(np.arange(1, len(by_age) + 1), floor(by_age), styles[rule],
                        color=colors[name], lw=1, label=f"{LABELS[name]}, {LABELS[rule]}")
        ax.axvline(key_dim, color="k", lw=0.8)
        ax.axhline(1.0, color="gray", lw=0.5)
        ax.set(xscale="log", yscale="log", xlabel="age (1 = written last)",
               ylabel="retrieval MSE")
        ax.set_title(f"(a) error by age after N = {n_max} = {n_max / key_dim:.3g} Dk writes",
                     fontsize=9)
        ax.legend(fontsize=7)

        ax = row[2]
        sizes = result["overwrite_sizes"]
        for name, per_rule in result["overwrite"].items():
            for rule in RULES:
                ax.plot(sizes, floor(per_rule[rule]["vs_new"]), styles[rule], color=colors[name],
                        marker="o", ms=3, label=f"{LABELS[name]}, {LABELS[rule]}")
        ax.axhline(1.0, color="gray", lw=0.5)
        ax.set(xscale="log", yscale="log", xlabel="M keys, each written twice",
               ylabel="MSE w.r.t. the NEW values")
        ax.set_title(f"(b) overwriting (values below {PLOT_FLOOR:g} drawn at it)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Fast weight memory with no training: sum rule vs delta rule (beta = 1); "
                 "Schlag et al. 2021, Sec. 4", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def _sizes(ratios, key_dim, include_one=False):
    sizes = {max(1, int(round(r * key_dim))) for r in ratios}
    if include_one:
        sizes.add(1)
    return sorted(sizes)


def run(output_dir, key_dim=64, value_dim=32, trials=16, seed=0, key_norms=KEY_NORMS,
        capacity_ratios=DEFAULT_CAPACITY_RATIOS, overwrite_ratios=DEFAULT_OVERWRITE_RATIOS,
        verbose=True):
    """Runs both experiments for each key normalisation; writes the PNG and JSON.

    Returns the results as a dict (the content of the JSON file).
    """
    if key_dim < 4 or key_dim % 2:
        raise ValueError(f"`key_dim` must be even and >= 4 (DPFP-1 gives Dk = 2d). "
                         f"Received: key_dim={key_dim}")
    say = print if verbose else (lambda *a, **k: None)
    start = time.time()
    rng = np.random.default_rng(seed)
    recent = max(1, key_dim // 8)
    capacity_sizes = _sizes(capacity_ratios, key_dim)
    overwrite_sizes = _sizes([r for r in overwrite_ratios if r <= 1], key_dim, include_one=True)
    key_dims = {name: make_keys(np.random.default_rng(), name, "l2", 1, 1, key_dim).shape[-1]
                for name in FEATURE_MAPS}

    say(__doc__.split("\n\n")[0])
    say(f"\nbackend: {keras.backend.backend()}; one head, Dv = {value_dim}, {trials} trials, "
        f"seed {seed}")
    for name in FEATURE_MAPS:
        say(f"  {LABELS[name]:8s} input dim d = {feature_map(name, key_dim)[1]:3d} -> "
            f"Dk = {key_dims[name]}")
    say("Metric: mean squared error per value component (values ~ N(0, 1): returning zeros "
        "scores 1.0).")

    results = {}
    for key_norm in key_norms:
        result = {
            "key_norm": key_norm,
            "key_dims": key_dims,
            "recent_window": recent,
            "capacity_sizes": capacity_sizes,
            "overwrite_sizes": overwrite_sizes,
        }
        result["capacity"] = capacity_sweep(rng, key_norm, capacity_sizes, key_dim, value_dim,
                                            trials, recent)
        result["overwrite"] = overwrite_sweep(rng, key_norm, overwrite_sizes, key_dim,
                                              value_dim, trials)
        results[key_norm] = result

        reader = "q = k" if key_norm == "l2" else "q = k / (k.k)"
        say(f"\n=== keys normalised with {key_norm!r}, each read with {reader} ===")
        for name in FEATURE_MAPS:
            stats = result["capacity"][name]["keys"]
            say(f"  {LABELS[name]:8s} mean k.k = {stats['mean_k_dot_k']:.3g}; "
                f"mean cos^2(k_i, k_j), i != j: {stats['mean_squared_cosine']:.3g} (isotropic "
                f"random keys: "
                f"1/Dk = {1 / key_dim:.3g})")
        say(f"\n(a) capacity: retrieval MSE after writing N associations, "
            f"'all N / last {recent} written'")
        say(capacity_table(result, key_dim))
        say("\n(b) overwriting: M keys written with old values, then again with new values; "
            "MSE of the read against")
        say(overwrite_table(result))

    say("\nSummary")
    say(summary(results, key_dim))

    os.makedirs(output_dir, exist_ok=True)
    png = os.path.join(output_dir, "capacity_demo.png")
    json_path = os.path.join(output_dir, "capacity_demo.json")
    plot(results, key_dim, png)
    document = {
        "description": "Schlag et al. 2021, Section 4: capacity and overwriting of a fast "
                       "weight memory with random keys, no training.",
        "metric": "mean squared error per value component; values ~ N(0, 1)",
        "config": {"key_dim": key_dim, "value_dim": value_dim, "trials": trials, "seed": seed,
                   "beta": 1.0, "backend": keras.backend.backend()},
        "results": results,
    }
    with open(json_path, "w") as f:
        json.dump(document, f, indent=1)
    say(f"\nwrote {os.path.abspath(png)}")
    say(f"wrote {os.path.abspath(json_path)}")
    say(f"({time.time() - start:.1f} s)")
    return document


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Capacity and overwriting of a fast weight memory (Schlag et al. 2021, "
                    "Sec. 4), with random keys and no training.")
    parser.add_argument("--output-dir", default="demo_output",
                        help="where capacity_demo.png and capacity_demo.json go")
    parser.add_argument("--key-dim", type=int, default=64,
                        help="Dk, the dimension of phi(x) (even); DPFP-1 acts on d = Dk/2, "
                             "ELU+1 on d = Dk")
    parser.add_argument("--value-dim", type=int, default=32, help="Dv")
    parser.add_argument("--trials", type=int, default=16,
                        help="independent draws averaged (the batch axis)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--key-norm", choices=("both",) + KEY_NORMS, default="both",
                        help="normalisation of phi(x): l2 (unit keys), sum (Eq. 29) or both")
    parser.add_argument("--max-ratio", type=float, default=4.0,
                        help="largest N of the capacity sweep, as a multiple of Dk")
    args = parser.parse_args(argv)
    ratios = [r for r in DEFAULT_CAPACITY_RATIOS if r <= args.max_ratio]
    if args.max_ratio not in ratios:
        ratios.append(args.max_ratio)
    run(args.output_dir, key_dim=args.key_dim, value_dim=args.value_dim, trials=args.trials,
        seed=args.seed, key_norms=KEY_NORMS if args.key_norm == "both" else (args.key_norm,),
        capacity_ratios=ratios)


if __name__ == "__main__":
    main()
