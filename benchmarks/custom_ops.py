"""Time and peak memory: TensorFlow custom ops vs keras.ops paths vs softmax attention (CPU, TF).

For `fwp_keras.ops.linear_attention` (sum rule) and `fwp_keras.ops.delta_rule`, each with
`implementation="op"` (the `FwpLinearAttention` / `FwpDeltaRule` TensorFlow custom ops, C++
kernels, registered gradients), `"plain_tf"` (short plain-TensorFlow chunked code with autodiff,
`benchmarks.plain_tensorflow`: the issue's yardstick), `"chunked"` (the keras.ops chunkwise form)
and `"recurrent"` (the keras.ops scan over time), and for causal softmax attention
(`keras.ops.dot_product_attention(q, k, v, is_causal=True)`, the same for both rules, measured once
per length), at each sequence length T, one fresh Python subprocess (KERAS_BACKEND=tensorflow):

1. imports TensorFlow and fwp_keras (for "op": loads the op library with
   `fwp_keras.tf_ops.load_custom_ops()`), builds the inputs as `benchmarks.chunked_memory` does
   (q, k = sum-normalised ELU+1 features, v standard normal, beta = sigmoid of a standard normal;
   float32, B x T x H x D), and traces two `tf.function`s: forward (`loss = sum(o)`) and
   forward + backward (the same loss and its gradients w.r.t. q, k, v and, for the delta rule,
   beta, with `tf.GradientTape`); it records which `Fwp...` ops the traced graphs contain;
2. resets the kernel's peak-RSS mark (`/proc/self/clear_refs`, Linux) and reads its current RSS;
3. runs forward + backward once (warm-up) and then `--repeats` times, timed; the peak RSS
   (`ru_maxrss`) minus the RSS of step 2 is the memory figure, as in `chunked_memory.py`;
4. runs the forward once (warm-up) and then `--repeats` times, timed.

The recurrent form runs `--recurrent-repeats` timed repeats (it takes minutes at T = 16384). A
configuration is skipped, with the reason recorded, when its peak memory or its run time,
extrapolated from the previous length (linearly in T; quadratically for softmax, whose scores alone
take B*H*T*T*4 bytes), would pass `--max-memory-gb` or `--timeout`, and when it times out.

Run from the repository root:

    KERAS_BACKEND=tensorflow python -m benchmarks.custom_ops

Writes markdown tables to stdout (progress to stderr), `benchmarks/results/custom_ops.json`,
`benchmarks/results/custom_ops.png` and `benchmarks/results/custom_ops.md` (the results section
for benchmarks/README.md; `--readme` also prints it). See benchmarks/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

from benchmarks.chunked_memory import (
    MIB,
    _markdown,
    _mib,
    gradient_probes,
    peak_rss_fields,
    run_one,
    start_peak_rss,
)

RULES = ("sum", "delta")
IMPLEMENTATIONS = ("op", "plain_tf", "chunked", "recurrent", "softmax")
RULE_LABELS = {"sum": "sum (linear_attention)", "delta": "delta (delta_rule)",
               "softmax": "softmax attention"}
OP_TYPES = {"sum": "FwpLinearAttention", "delta": "FwpDeltaRule"}
RESULT_TAG = "CUSTOM_OPS_RESULT "
MODULE = "benchmarks.custom_ops"
HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 2**30


# ---------------------------------------------------------------------------------------------
# In the subprocess.


def _graph_op_types(concrete):
    """Op types of a traced function's graph, functions of its library included."""
    graph_def = concrete.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def probe():
    """Versions, and whether the op library loads (it is built here if missing or stale)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    import keras

    result = {"tensorflow": tf.__version__, "keras": keras.__version__, "ops_loaded": False}
    start = time.perf_counter()
    try:
        from fwp_keras import tf_ops
        from fwp_keras.tf_ops import build

        tf_ops.load_custom_ops()
        result["ops_loaded"] = True
        directory = build.default_output_dir()
        result["library"] = str(directory / build.LIBRARY_NAME)
        record = directory / build.RECORD_NAME
        result["library_record"] = json.loads(record.read_text()) if record.exists() else None
    except Exception as error:  # the reason the op configurations are skipped
        result["ops_error"] = f"{type(error).__name__}: {error}"
    result["load_s"] = time.perf_counter() - start
    print(RESULT_TAG + json.dumps(result), flush=True)


def worker(config):
    """Measures one configuration; prints one tagged JSON line."""
    if config.get("probe"):
        probe()
        return
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import gc

    import numpy as np
    import tensorflow as tf

    import keras
    from benchmarks import plain_tensorflow
    from fwp_keras import layers as fwp_layers
    from fwp_keras import ops as fwp_ops

    rule, impl = config["rule"], config["implementation"]
    if impl == "op":
        from fwp_keras import tf_ops

        try:
            tf_ops.load_custom_ops()
        except Exception as error:
            skipped = f"load_custom_ops() raised {type(error).__name__}: {error}"
            print(RESULT_TAG + json.dumps(dict(config, skipped=skipped)), flush=True)
            return

    b, t, h = config["batch"], config["length"], config["heads"]
    dk, dv = config["key_dim"], config["value_dim"]
    rng = np.random.default_rng(config["seed"])

    def features(shape):
        x = rng.standard_normal(shape).astype("float32")
        return tf.constant(fwp_layers.sum_normalize(fwp_layers.ELUPlusOne()(x)))

    q, k = features((b, t, h, dk)), features((b, t, h, dk))
    v = tf.constant(rng.standard_normal((b, t, h, dv)).astype("float32"))
    beta = tf.constant(tf.sigmoid(rng.standard_normal((b, t, h)).astype("float32")))
    with_beta = rule == "delta"

    def memory(q, k, v, beta):
        if impl == "softmax":
            return keras.ops.dot_product_attention(q, k, v, is_causal=True)
        if impl == "plain_tf":
            if rule == "sum":
                return plain_tensorflow.sum_rule(q, k, v, config["chunk_size"])
            return plain_tensorflow.delta_rule(q, k, v, beta, config["chunk_size"])
        options = dict(implementation=impl, chunk_size=config["chunk_size"])
        if rule == "sum":
            return fwp_ops.linear_attention(q, k, v, **options)
        return fwp_ops.delta_rule(q, k, v, beta, **options)

    @tf.function
    def forward(q, k, v, beta):
        return tf.reduce_sum(memory(q, k, v, beta))

    @tf.function
    def forward_backward(q, k, v, beta):
        inputs = [q, k, v] + ([beta] if with_beta else [])
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(memory(q, k, v, beta))
        return loss, tape.gradient(loss, inputs)

    # Trace both before the baseline.
    start = time.perf_counter()
    run_fb = forward_backward.get_concrete_function(q, k, v, beta)
    trace_fb_s = time.perf_counter() - start
    start = time.perf_counter()
    run_f = forward.get_concrete_function(q, k, v, beta)
    trace_f_s = time.perf_counter() - start
    types_f, types_fb = _graph_op_types(run_f), _graph_op_types(run_fb)
    op_type = OP_TYPES.get(rule)

    gc.collect()
    baseline = start_peak_rss()

    def timed(run, repeats):
        start = time.perf_counter()
        out = run(q, k, v, beta)
        float(out[0] if isinstance(out, (tuple, list)) else out)  # waits for the result
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = run(q, k, v, beta)
            float(out[0] if isinstance(out, (tuple, list)) else out)
            times.append(time.perf_counter() - start)
        return out, first, times

    (loss, grads), fb_first, fb_times = timed(run_fb, config["repeats"])
    peak = peak_rss_fields(baseline)
    _, f_first, f_times = timed(run_f, config["repeats"])

    result = dict(
        config,
        tensorflow=tf.__version__,
        keras=keras.__version__,
        fwp_ops_in_forward_graph=sorted(x for x in types_f if x.startswith("Fwp")),
        fwp_ops_in_forward_backward_graph=sorted(x for x in types_fb if x.startswith("Fwp")),
        custom_op_in_graph=bool(op_type) and op_type in types_f and op_type in types_fb,
        custom_grad_op_in_graph=bool(op_type) and op_type + "Grad" in types_fb,
        trace_forward_s=trace_f_s,
        trace_forward_backward_s=trace_fb_s,
        **peak,
        forward_backward_first_call_s=fb_first,
        forward_backward_times_s=fb_times,
        forward_backward_median_s=statistics.median(fb_times),
        forward_first_call_s=f_first,
        forward_times_s=f_times,
        forward_median_s=statistics.median(f_times),
        loss=float(loss),
        grad_probes=gradient_probes(grads),
    )
    print(RESULT_TAG + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The driver.


def scores_bytes(config):
    """One float32 [B, H, T, T] tensor: softmax attention's scores."""
    return config["batch"] * config["heads"] * config["length"] ** 2 * 4


def _power(impl):
    return 2 if impl == "softmax" else 1  # how run time and memory grow with T


def _compute_s(result):
    return (result["forward_backward_first_call_s"] + sum(result["forward_backward_times_s"])
            + result["forward_first_call_s"] + sum(result["forward_times_s"]))


def _skip_reason(config, last, args):
    """Why `config` is not run, from the last measured length of its (rule, implementation)."""
    impl, length = config["implementation"], config["length"]
    limit = args.max_memory_gb * GIB
    predicted = scores_bytes(config) if impl == "softmax" else 0
    if last is not None:
        scale = (length / last["length"]) ** _power(impl)
        predicted = max(predicted, last["peak_delta_bytes"] * scale)
    if predicted > limit:
        what = ("scores B*H*T*T*4 bytes" if impl == "softmax" and last is None
                else "predicted peak")
        return ("memory", f"{what} {predicted / GIB:.1f} GiB > --max-memory-gb "
                          f"{args.max_memory_gb:g}")
    if last is not None:
        scale = (length / last["length"]) ** _power(impl)
        runs = (1 + config["repeats"]) / (1 + last["repeats"])
        seconds = _compute_s(last) * scale * runs
        if seconds > args.timeout:
            return ("time", f"predicted {seconds:,.0f} s > --timeout {args.timeout} s")
    return None


def measure(args, base, ops_problem):
    """Runs every (length, rule, implementation), shortest first; softmax once per length."""
    keys = []
    for length in sorted(args.lengths):
        for rule in args.rules:
            for impl in args.implementations:
                if impl != "softmax":
                    keys.append((rule, impl, length))
        if "softmax" in args.implementations:
            keys.append(("softmax", "softmax", length))
    results, last = [], {}
    for rule, impl, length in keys:
        repeats = args.recurrent_repeats if impl == "recurrent" else args.repeats
        config = dict(base, rule=rule, implementation=impl, length=length, repeats=repeats)
        reason = ("op library", ops_problem) if impl == "op" and ops_problem else None
        if reason:  # the whole reason is printed once, above
            result = dict(config, skipped=reason[1], skip_kind=reason[0])
            print(f"  {RULE_LABELS[rule]:22s} {impl:9s} T={length:6d}: skipped, the op library "
                  "did not load", file=sys.stderr, flush=True)
            results.append(result)
            continue
        reason = reason or _skip_reason(config, last.get((rule, impl)), args)
        if reason:
            result = dict(config, skipped=reason[1], skip_kind=reason[0])
        else:
            result = run_one(config, args.timeout, module=MODULE, tag=RESULT_TAG)
            if "skipped" in result:
                kind = ("timeout" if result["skipped"].startswith("timed out")
                        else "op library" if result["skipped"].startswith("load_custom_ops")
                        else "failed")
                result = dict(config, **result, skip_kind=kind)
        where = f"  {RULE_LABELS[rule]:22s} {impl:9s} T={length:6d}:"
        if "peak_delta_bytes" in result:
            last[(rule, impl)] = result
            check = ""
            if impl == "op":
                check = (", Fwp op in graph" if result["custom_op_in_graph"]
                         else ", WARNING: no Fwp op in the traced graph")
            print(f"{where} fwd {result['forward_median_s'] * 1e3:,.1f} ms, fwd+bwd "
                  f"{result['forward_backward_median_s'] * 1e3:,.1f} ms, peak "
                  f"+{_mib(result['peak_delta_bytes'])} MiB ({result['process_s']:.0f} s in "
                  f"all{check})", file=sys.stderr, flush=True)
        else:
            print(f"{where} skipped: {result['skipped']}", file=sys.stderr, flush=True)
        results.append(result)
    return results


def _one_line(text, limit=400):
    """A multi-line reason (a compiler's output) as one line for the tables and notes."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = " / ".join(lines)
    return line if len(line) <= limit else line[: limit - 3] + "..."


SHORT_SKIP = {"memory": "skipped (memory)", "time": "skipped (time)", "timeout": "timed out",
              "failed": "failed", "op library": "no op library"}


def _get(results, rule, impl, length):
    if impl == "softmax":
        rule = "softmax"
    for r in results:
        if (r["rule"], r["implementation"], r["length"]) == (rule, impl, length):
            return r
    return None


def _cell(result, key, fmt):
    if result is None:
        return "-"
    if key not in result:
        return SHORT_SKIP.get(result.get("skip_kind"), "skipped")
    return fmt(result[key])


def _ms(x):
    return f"{x * 1e3:,.0f}" if x >= 0.1 else f"{x * 1e3:,.1f}"


def _ratio(a, b, key):
    if a is None or b is None or key not in a or key not in b or not b[key]:
        return "-"
    r = a[key] / b[key]
    return f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def ratios(results, rules, implementations, lengths):
    """Side-by-side ratios of one run: impl / op time, and peak growth from the previous T."""
    out = []
    lengths = sorted(lengths)
    for rule in rules:
        for i, length in enumerate(lengths):
            op = _get(results, rule, "op", length)
            row = {"rule": rule, "length": length}
            for impl in implementations:
                r = _get(results, rule, impl, length)
                for key, name in (("forward_backward_median_s", "forward_backward"),
                                  ("forward_median_s", "forward")):
                    if impl != "op" and op and r and key in op and key in r:
                        row[f"{impl}_over_op_{name}"] = r[key] / op[key]
                prev = _get(results, rule, impl, lengths[i - 1]) if i else None
                if r and prev and "peak_delta_bytes" in r and "peak_delta_bytes" in prev:
                    row[f"{impl}_peak_growth"] = r["peak_delta_bytes"] / max(
                        prev["peak_delta_bytes"], 1)
                    row[f"{impl}_peak_growth_length_ratio"] = length / lengths[i - 1]
            out.append(row)
    return out


def time_table(results, rules, implementations, lengths):
    header = ["rule", "T"]
    for impl in implementations:
        header += [f"{impl} fwd ms", f"{impl} fwd+bwd ms"]
    header += [f"{impl} / op" for impl in implementations if impl != "op"
               and "op" in implementations]
    lines = []
    for rule in rules:
        for length in sorted(lengths):
            line = [RULE_LABELS[rule], str(length)]
            for impl in implementations:
                r = _get(results, rule, impl, length)
                line += [_cell(r, "forward_median_s", _ms),
                         _cell(r, "forward_backward_median_s", _ms)]
            op = _get(results, rule, "op", length)
            line += [_ratio(_get(results, rule, impl, length), op, "forward_backward_median_s")
                     for impl in implementations if impl != "op" and "op" in implementations]
            lines.append(line)
    return _markdown(header, lines)


def memory_table(results, rules, implementations, lengths):
    header = ["rule", "T"] + [f"{impl} peak MiB" for impl in implementations]
    header += [f"{impl} growth" for impl in implementations]
    lengths = sorted(lengths)
    lines = []
    for rule in rules:
        for i, length in enumerate(lengths):
            line = [RULE_LABELS[rule], str(length)]
            line += [_cell(_get(results, rule, impl, length), "peak_delta_bytes", _mib)
                     for impl in implementations]
            for impl in implementations:
                prev = _get(results, rule, impl, lengths[i - 1]) if i else None
                line.append(_ratio(_get(results, rule, impl, length), prev, "peak_delta_bytes")
                            if prev else "-")
            lines.append(line)
    return _markdown(header, lines)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def report(results, args, machine, ops_status):
    """The tables with their notes (markdown), as printed and as written to custom_ops.md."""
    lengths, impls = sorted(args.lengths), list(args.implementations)
    steps = sorted({b / a for a, b in zip(lengths, lengths[1:])})
    step = "/".join(f"{s:g}x" for s in steps) if steps else "-"
    text = [
        f"Causal memories, TensorFlow CPU, float32, B={args.batch}, H={args.heads}, "
        f"Dk=Dv={args.key_dim}, chunk C={args.chunk_size} (keras.ops chunked and plain_tf "
        f"forms; the op tiles time its own way); {machine['cpus']} CPUs ({machine['cpu_model']}), TensorFlow "
        f"{machine['tensorflow']}, Keras {machine['keras']}.",
        "",
        "Every number comes from a fresh process per configuration. ms = median of "
        f"{args.repeats} timed runs after a warm-up ({args.recurrent_repeats} for recurrent) of "
        "one traced `tf.function`: fwd = `sum(o)`, fwd+bwd = `sum(o)` and its gradients w.r.t. "
        "q, k, v (and beta for the delta rule). `X / op` = X's fwd+bwd time over the op's, same "
        "rule and T. plain_tf = a few lines of plain TensorFlow (einsum per chunk, `tf.scan` over "
        "chunks for the delta rule, autodiff; `benchmarks/plain_tensorflow.py`). softmax = "
        "`keras.ops.dot_product_attention(q, k, v, is_causal=True)`: one measurement per T (no "
        "beta), repeated in both rules' rows.",
        "",
        "### Time",
        "",
        time_table(results, args.rules, impls, lengths),
        "",
        "### Peak memory, forward + backward",
        "",
        "peak = ru_maxrss minus the RSS just before the first run (as in chunked_memory.py): "
        "saved activations, gradients, outputs, TensorFlow's workspace; not the inputs. growth "
        f"= peak(T) / peak(previous T) (T steps by {step}): linear memory grows by the T step, "
        "quadratic by its square.",
        "",
        memory_table(results, args.rules, impls, lengths),
    ]
    notes = []
    if "op" in impls:
        if ops_status.get("ops_loaded"):
            ran = [r for r in results if r["implementation"] == "op" and "peak_delta_bytes" in r]
            good = [r for r in ran if r["custom_op_in_graph"] and r["custom_grad_op_in_graph"]]
            notes.append(f"op: the traced graphs of {len(good)} of {len(ran)} op runs contain the "
                         "`FwpLinearAttention` / `FwpDeltaRule` op and its `...Grad` op.")
        else:
            notes.append("op: not run, the op library did not load: "
                         + _one_line(ops_status.get("ops_error")))
    for r in results:
        if "skipped" in r and r.get("skip_kind") != "op library":
            prefix = "skipped, " if r.get("skip_kind") in ("memory", "time") else ""
            notes.append(f"{RULE_LABELS[r['rule']]}, {r['implementation']}, T={r['length']}: "
                         f"{prefix}{_one_line(r['skipped'])}")
    agreement = gradient_agreement(results)
    if agreement is not None:
        compared = [i for i in IMPLEMENTATIONS if i != "softmax" and any(
            r["implementation"] == i and "grad_probes" in r for r in results)]
        notes.append(f"Same inputs, same gradients: random projections of the {', '.join(compared)}"
                     f" gradients agree to {agreement:.1e} relative (largest gap).")
    if notes:
        text += [""] + [f"- {note}" for note in notes]
    return "\n".join(text)


def gradient_agreement(results):
    """Largest relative gap between gradient projections of the memory implementations."""
    gaps = []
    groups = {}
    for r in results:
        if "grad_probes" in r and r["implementation"] != "softmax":
            groups.setdefault((r["rule"], r["length"]), []).append(r["grad_probes"])
    for probes in groups.values():
        reference = probes[0]
        scale = max(abs(y) for y in reference) or 1.0
        for other in probes[1:]:
            gaps.append(max(abs(x - y) for x, y in zip(other, reference)) / scale)
    return max(gaps) if gaps else None


def plot(results, args, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    colors = {"sum": "tab:blue", "delta": "tab:red", "softmax": "black"}
    styles = {"op": "-o", "plain_tf": "-.v", "chunked": "--s", "recurrent": ":^",
              "softmax": "-.D"}
    panels = (("forward_backward_median_s", 1e3, "forward + backward time (ms, median)"),
              ("peak_delta_bytes", 1 / MIB, "peak RSS increase, forward + backward (MiB)"))
    lines = [(rule, impl) for rule in args.rules for impl in args.implementations
             if impl != "softmax"]
    if "softmax" in args.implementations:
        lines.append(("softmax", "softmax"))
    lengths = sorted(args.lengths)
    for ax, (key, scale, ylabel) in zip(axes, panels):
        for rule, impl in lines:
            points = [(r["length"], r[key] * scale) for r in results
                      if (r["rule"], r["implementation"]) == (rule, impl) and key in r]
            if points:
                label = "softmax (causal)" if rule == "softmax" else f"{rule}, {impl}"
                ax.plot(*zip(*points), styles[impl], color=colors[rule], label=label)
        ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel=ylabel)
        ax.set_xticks(lengths, [str(x) for x in lengths])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"B={args.batch}, H={args.heads}, Dk=Dv={args.key_dim}, float32; "
                     "TF CPU", fontsize=10)
        ax.grid(True, which="both", lw=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--rules", nargs="+", choices=RULES, default=list(RULES))
    parser.add_argument("--implementations", nargs="+", choices=IMPLEMENTATIONS,
                        default=list(IMPLEMENTATIONS))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--key-dim", type=int, default=64, help="Dk = Dv")
    parser.add_argument("--chunk-size", type=int, default=64,
                        help="chunk size of the keras.ops chunked and plain_tf forms")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument("--recurrent-repeats", type=int, default=1,
                        help="timed runs of the recurrent form after one warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-memory-gb", type=float, default=8.0,
                        help="skip a run whose peak, extrapolated from the previous length "
                             "(softmax: at least its B*H*T*T*4 bytes of scores), would pass this")
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds per configuration (one process); also skips a run whose "
                             "time, extrapolated from the previous length, would pass it")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--readme", action="store_true",
                        help="also print the results section for benchmarks/README.md "
                             "(always written to <output-dir>/custom_ops.md)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return
    # Keep the given order of rules and implementations, without repeats.
    args.rules = list(dict.fromkeys(args.rules))
    args.implementations = list(dict.fromkeys(args.implementations))
    args.lengths = sorted(set(args.lengths))

    start = time.time()
    print("Probing TensorFlow and the op library", file=sys.stderr, flush=True)
    ops_status = run_one({"probe": True}, max(args.timeout, 1200), module=MODULE, tag=RESULT_TAG)
    if "skipped" in ops_status:  # the probe process itself failed
        ops_status = {"ops_loaded": False, "ops_error": "probe " + ops_status["skipped"]}
    ops_problem = None
    if not ops_status.get("ops_loaded"):
        ops_problem = f"load_custom_ops() raised {ops_status.get('ops_error')}"
        if "op" in args.implementations:
            print(f"  op configurations skipped: {ops_problem}", file=sys.stderr, flush=True)
    else:
        print(f"  op library loaded ({ops_status.get('library')})", file=sys.stderr, flush=True)

    base = dict(batch=args.batch, heads=args.heads, key_dim=args.key_dim,
                value_dim=args.key_dim, chunk_size=args.chunk_size, seed=args.seed)
    results = measure(args, base, ops_problem)

    machine = {"platform": platform.platform(), "python": platform.python_version(),
               "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
               "tensorflow": ops_status.get("tensorflow"), "keras": ops_status.get("keras")}
    for r in results:  # versions from the workers when the probe did not report them
        machine["tensorflow"] = machine["tensorflow"] or r.get("tensorflow")
        machine["keras"] = machine["keras"] or r.get("keras")
    text = report(results, args, machine, ops_status)
    print("\n" + text)

    heading = (f"### Results ({machine['cpus']} CPU cores, {machine['cpu_model']}, TensorFlow "
               f"{machine['tensorflow']}, Keras {machine['keras']}, Python {machine['python']})")
    readme = (heading + "\n\n" + text.replace("\n### ", "\n#### ") + "\n\n"
              "![fwd+bwd time and peak memory vs T](results/custom_ops.png)\n")
    os.makedirs(args.output_dir, exist_ok=True)
    json_path = os.path.join(args.output_dir, "custom_ops.json")
    png_path = os.path.join(args.output_dir, "custom_ops.png")
    md_path = os.path.join(args.output_dir, "custom_ops.md")
    with open(json_path, "w") as f:
        json.dump({
            "description": __doc__.split("\n\n")[0],
            "command": "KERAS_BACKEND=tensorflow python -m benchmarks.custom_ops "
                       + " ".join(sys.argv[1:] if argv is None else argv),
            "config": dict(base, lengths=args.lengths, rules=args.rules,
                           implementations=args.implementations, repeats=args.repeats,
                           recurrent_repeats=args.recurrent_repeats,
                           max_memory_gb=args.max_memory_gb, timeout_s=args.timeout),
            "machine": machine,
            "custom_ops": ops_status,
            "results": results,
            "ratios": ratios(results, args.rules, args.implementations, args.lengths),
            "gradient_agreement": gradient_agreement(results),
            "wall_s": time.time() - start,
        }, f, indent=1)
    with open(md_path, "w") as f:
        f.write(readme)
    plot(results, args, png_path)
    if args.readme:
        print("\n--- for benchmarks/README.md ---\n\n" + readme)
    print(f"\nwrote {json_path}\nwrote {png_path}\nwrote {md_path}\n"
          f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
