"""Peak memory and time of forward + backward: chunked vs recurrent memory programs (CPU, TF).

The requirement under test: "The chunked backward must not keep per-time-step states: memory
O(T * (Dk + Dv)) plus one state per chunk, not O(T * Dk * Dv)."

For `fwp_keras.ops.linear_attention` (sum rule) and `fwp_keras.ops.delta_rule`, each with
`implementation="chunked"` and `"recurrent"`, and each sequence length T, one fresh Python
subprocess (KERAS_BACKEND=tensorflow):

1. imports TensorFlow and fwp_keras, builds the inputs (q, k = sum-normalised ELU+1 features,
   v standard normal, beta = sigmoid of a standard normal; float32, B x T x H x D), and traces
   a `tf.function` computing `loss = sum(o)` and its gradients w.r.t. q, k, v (and beta) with
   `tf.GradientTape`;
2. resets the kernel's peak-RSS mark (`/proc/self/clear_refs`, Linux) and reads its current RSS;
3. runs forward + backward once (warm-up) and then `--repeats` times, timed;
4. reports the peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) minus the RSS of step 2.

So the figure is the extra resident memory of running the configuration: activations saved for
the backward pass, gradients, outputs, TensorFlow's workspace; not the inputs. Each run reports
the median wall time of the timed repeats. Analytic sizes are printed next to the measurements:
one `[B, H, Dk, Dv]` float32 state per time step (what a backward that stores every step keeps)
and one per chunk.

Run from the repository root:

    KERAS_BACKEND=tensorflow python -m benchmarks.chunked_memory

Writes a markdown table to stdout, `benchmarks/results/chunked_memory.json` and
`benchmarks/results/chunked_memory.png`. See benchmarks/README.md.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

OPS = ("linear_attention", "delta_rule")
IMPLEMENTATIONS = ("chunked", "recurrent")
RESULT_TAG = "CHUNKED_MEMORY_RESULT "
HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 2**20


# ---------------------------------------------------------------------------------------------
# One configuration, in its own process.


def _rss_bytes():
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _reset_peak_rss():
    """Resets the peak-RSS mark (VmHWM and ru_maxrss) to the current RSS; Linux >= 4.0."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def start_peak_rss():
    """Marks the baseline of a peak-RSS measurement: resets the peak mark, reads the RSS."""
    return {"peak_reset": _reset_peak_rss(), "rss_before_bytes": _rss_bytes(),
            "ru_maxrss_after_reset_bytes": _peak_rss_bytes()}


def peak_rss_fields(baseline):
    """The peak-RSS record since `start_peak_rss()`; peak_delta_bytes is the figure reported."""
    peak, hwm = _peak_rss_bytes(), _status_kib("VmHWM")
    return dict(baseline, ru_maxrss_bytes=peak, vmhwm_bytes=None if hwm is None else hwm * 1024,
                peak_delta_bytes=peak - baseline["rss_before_bytes"])


def gradient_probes(grads):
    """A fixed random projection of each gradient: the parent compares implementations."""
    import numpy as np
    import tensorflow as tf

    def probe(shape):
        return tf.constant(np.random.default_rng(1).standard_normal(shape).astype("float32"))

    return [float(tf.reduce_sum(g * probe(g.shape))) for g in grads]


def worker(config):
    """Measures one configuration; prints one tagged JSON line."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import gc

    import numpy as np
    import tensorflow as tf

    import keras
    from fwp_keras import layers as fwp_layers
    from fwp_keras import ops as fwp_ops

    b, t, h = config["batch"], config["length"], config["heads"]
    dk, dv = config["key_dim"], config["value_dim"]
    rng = np.random.default_rng(config["seed"])

    def features(shape):
        x = rng.standard_normal(shape).astype("float32")
        return tf.constant(fwp_layers.sum_normalize(fwp_layers.ELUPlusOne()(x)))

    q, k = features((b, t, h, dk)), features((b, t, h, dk))
    v = tf.constant(rng.standard_normal((b, t, h, dv)).astype("float32"))
    beta = tf.constant(tf.sigmoid(rng.standard_normal((b, t, h)).astype("float32")))
    op = config["op"]
    options = dict(implementation=config["implementation"], chunk_size=config["chunk_size"])

    @tf.function
    def forward_backward(q, k, v, beta):
        with tf.GradientTape() as tape:
            tape.watch([q, k, v, beta])
            if op == "linear_attention":
                o = fwp_ops.linear_attention(q, k, v, **options)
            else:
                o = fwp_ops.delta_rule(q, k, v, beta, **options)
            loss = tf.reduce_sum(o)
        inputs = [q, k, v] + ([beta] if op == "delta_rule" else [])
        return loss, tape.gradient(loss, inputs)

    run = forward_backward.get_concrete_function(q, k, v, beta)  # trace before the baseline
    gc.collect()
    baseline = start_peak_rss()

    start = time.perf_counter()
    loss, grads = run(q, k, v, beta)
    float(loss)
    first_call_s = time.perf_counter() - start
    times = []
    for _ in range(config["repeats"]):
        start = time.perf_counter()
        loss, grads = run(q, k, v, beta)
        float(loss)  # waits for the result
        times.append(time.perf_counter() - start)
    peak = peak_rss_fields(baseline)

    result = dict(
        config,
        tensorflow=tf.__version__,
        keras=keras.__version__,
        **peak,
        first_call_s=first_call_s,
        times_s=times,
        median_s=statistics.median(times),
        loss=float(loss),
        grad_probes=gradient_probes(grads),
    )
    print(RESULT_TAG + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The driver.


def analytic(config):
    """Sizes in bytes of what a backward pass could keep, float32."""
    b, t, h = config["batch"], config["length"], config["heads"]
    dk, dv, c = config["key_dim"], config["value_dim"], config["chunk_size"]
    state = b * h * dk * dv * 4
    return {
        "per_step_states_bytes": t * state,
        "per_chunk_states_bytes": math.ceil(t / c) * state,
        "sequence_tensors_bytes": b * t * h * (2 * dk + dv + 1) * 4,  # q, k, v, beta (one copy)
    }


def run_one(config, timeout, module="benchmarks.chunked_memory", tag=RESULT_TAG):
    """Runs `python -m <module> --worker <config>` in a fresh process; returns its `tag` line."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    root = os.path.dirname(HERE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, "--worker", json.dumps(config)]
    start = time.time()
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout} s"}
    for line in done.stdout.splitlines():
        if line.startswith(tag):
            result = json.loads(line[len(tag):])
            result["process_s"] = time.time() - start
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {"skipped": f"failed (exit {done.returncode}): " + " / ".join(tail)}


def _mib(x):
    return "-" if x is None else f"{x / MIB:,.0f}" if x >= 10 * MIB else f"{x / MIB:.1f}"


def _peak(result):
    return _mib(result["peak_delta_bytes"]) if "peak_delta_bytes" in result else "skipped"


def _ratio(row):
    c, r = row["chunked"].get("peak_delta_bytes"), row["recurrent"].get("peak_delta_bytes")
    return f"{r / c:.1f}x" if c and r else "-"


def _ms(result):
    return f"{result['median_s'] * 1e3:,.0f}" if "median_s" in result else "-"


def _markdown(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])


def length_table(rows):
    header = ["op", "T", "chunked peak MiB", "recurrent peak MiB", "recurrent / chunked",
              "chunked ms", "recurrent ms", "T states MiB", "T/C states MiB", "q,k,v,beta MiB"]
    return _markdown(header, [[
        LABELS[row["op"]], str(row["length"]), _peak(row["chunked"]), _peak(row["recurrent"]),
        _ratio(row), _ms(row["chunked"]), _ms(row["recurrent"]),
        _mib(row["analytic"]["per_step_states_bytes"]),
        _mib(row["analytic"]["per_chunk_states_bytes"]),
        _mib(row["analytic"]["sequence_tensors_bytes"]),
    ] for row in rows])


def width_table(rows):
    header = ["op", "Dk = Dv", "T", "chunked peak MiB", "recurrent peak MiB",
              "recurrent / chunked", "T states MiB", "q,k,v,beta MiB"]
    return _markdown(header, [[
        LABELS[row["op"]], str(row["key_dim"]), str(row["length"]), _peak(row["chunked"]),
        _peak(row["recurrent"]), _ratio(row),
        _mib(row["analytic"]["per_step_states_bytes"]),
        _mib(row["analytic"]["sequence_tensors_bytes"]),
    ] for row in rows])


def plot(length_rows, width_rows, base, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    panels = [("length", length_rows, "sequence length T")]
    if width_rows:
        panels.append(("key_dim", width_rows, "Dk = Dv"))
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5), squeeze=False)
    colors = {"linear_attention": "tab:blue", "delta_rule": "tab:red"}
    styles = {"chunked": "-o", "recurrent": "--s"}
    references = (
        ("per_step_states_bytes", ":", "black", "one state per step (T B H Dk Dv 4 bytes)"),
        ("per_chunk_states_bytes", "-.", "gray", "one state per chunk"),
        ("sequence_tensors_bytes", ":", "tab:green", "q, k, v, beta (one copy)"),
    )
    for ax, (axis, rows, xlabel) in zip(axes[0], panels):
        for op in OPS:
            for impl in IMPLEMENTATIONS:
                points = [(row[axis], row[impl]["peak_delta_bytes"] / MIB) for row in rows
                          if row["op"] == op and "peak_delta_bytes" in row[impl]]
                if points:
                    ax.plot(*zip(*points), styles[impl], color=colors[op],
                            label=f"{op}, {impl}")
        xs = sorted({row[axis] for row in rows})

        def at(x):  # the configuration at a point of this panel's x axis
            if axis == "length":
                return dict(base, length=x)
            return dict(base, length=rows[0]["length"], key_dim=x, value_dim=x)

        for key, style, color, label in references:
            if axis == "key_dim" and key == "per_chunk_states_bytes":
                continue
            sizes = [analytic(at(x))[key] / MIB for x in xs]
            ax.plot(xs, sizes, linestyle=style, color=color, label=label)
        ax.set(xscale="log", yscale="log", xlabel=xlabel,
               ylabel="peak RSS increase, forward + backward (MiB)")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.xaxis.set_minor_formatter(NullFormatter())
        if axis == "length":
            title = f"Dk = Dv = {base['key_dim']}"
        else:
            title = f"T = {rows[0]['length']}"
        ax.set_title(f"B={base['batch']}, H={base['heads']}, C={base['chunk_size']}, {title}; "
                     "TF CPU", fontsize=10)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


LABELS = {"linear_attention": "linear_attention (sum)", "delta_rule": "delta_rule"}


def measure(points, base, args):
    """Runs chunked and recurrent at each (op, length, width) point, smallest first; skips a run
    whose peak, extrapolated linearly from the previous point of its (op, implementation),
    would pass `--max-memory-gb`."""
    limit = args.max_memory_gb * 2**30
    rows, previous = [], {}
    for op, length, width in points:
        config = dict(base, op=op, length=length, key_dim=width, value_dim=width)
        row = {"op": op, "length": length, "key_dim": width, "value_dim": width,
               "analytic": analytic(config)}
        for impl in IMPLEMENTATIONS:
            last = previous.get((op, impl))
            size = length * width * width
            predicted = None if last is None else last[1] * size / last[0]
            if predicted is not None and predicted > limit:
                result = {"skipped": f"predicted peak {predicted / 2**30:.1f} GiB > "
                                     f"--max-memory-gb {args.max_memory_gb:g}"}
            else:
                result = run_one(dict(config, implementation=impl), args.timeout)
            where = f"  {op:16s} {impl:9s} T={length:5d} Dk=Dv={width:3d}:"
            if "peak_delta_bytes" in result:
                previous[(op, impl)] = (size, max(result["peak_delta_bytes"], 1))
                print(f"{where} peak +{_mib(result['peak_delta_bytes'])} MiB, median "
                      f"{result['median_s'] * 1e3:,.0f} ms ({result['process_s']:.0f} s in all)",
                      file=sys.stderr, flush=True)
            else:
                print(f"{where} {result['skipped']}", file=sys.stderr, flush=True)
            row[impl] = result
        rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--key-dim", type=int, default=64, help="Dk = Dv of the length sweep")
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--widths", type=int, nargs="*", default=[32, 64, 128],
                        help="Dk = Dv values of the width check (empty: skip it)")
    parser.add_argument("--width-length", type=int, default=1024, help="T of the width check")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    parser.add_argument("--max-memory-gb", type=float, default=16.0,
                        help="skip a run whose peak, extrapolated linearly from the previous "
                             "point, would exceed this")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per configuration")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return

    start = time.time()
    base = dict(batch=args.batch, heads=args.heads, key_dim=args.key_dim,
                value_dim=args.key_dim, chunk_size=args.chunk_size, repeats=args.repeats,
                seed=args.seed)
    print("Length sweep", file=sys.stderr)
    length_rows = measure([(op, t, args.key_dim) for op in args.ops for t in sorted(args.lengths)],
                          base, args)
    width_rows = []
    if args.widths:
        print("Width check", file=sys.stderr)
        done = {(row["op"], row["length"], row["key_dim"]): row for row in length_rows}
        for op in args.ops:
            for width in sorted(args.widths):
                key = (op, args.width_length, width)
                width_rows += [done[key]] if key in done else measure([key], base, args)

    print(f"\nForward + backward (loss = sum(o); gradients w.r.t. q, k, v and, for the delta "
          f"rule, beta), TensorFlow CPU, float32, B={args.batch}, H={args.heads}, chunk "
          f"C={args.chunk_size}; {os.cpu_count()} CPUs.")
    print("peak = ru_maxrss minus the RSS just before the run, a fresh process per run; "
          f"ms = median of {args.repeats} runs after a warm-up.")
    print("T states = T*B*H*Dk*Dv*4 bytes (one state per time step); T/C states = one per "
          "chunk; q,k,v,beta = one copy of the inputs.\n")
    print(f"Length sweep, Dk = Dv = {args.key_dim}:\n")
    print(length_table(length_rows))
    if width_rows:
        print(f"\nWidth check, T = {args.width_length}: memory that grows as T*(Dk+Dv) doubles "
              "with each doubling of Dk = Dv; per-step states grow 4x.\n")
        print(width_table(width_rows))

    rows = length_rows + [row for row in width_rows if row not in length_rows]
    agreement = []
    for row in rows:
        c, r = row["chunked"], row["recurrent"]
        if "grad_probes" in c and "grad_probes" in r:
            scale = max(abs(y) for y in r["grad_probes"])
            agreement.append(max(abs(x - y) for x, y in zip(c["grad_probes"], r["grad_probes"]))
                             / scale)
    if agreement:
        print(f"\nchunked vs recurrent, same inputs: random projections of the gradients agree "
              f"to {max(agreement):.1e} relative (largest over the rows).")
    for row in rows:
        for impl in IMPLEMENTATIONS:
            where = f"{row['op']} {impl} T={row['length']} Dk=Dv={row['key_dim']}"
            if "skipped" in row[impl]:
                print(f"{where}: skipped, {row[impl]['skipped']}")
            elif not row[impl].get("peak_reset"):
                print(f"{where}: the peak-RSS mark could not be reset; the figure may include "
                      "the import peak.")

    os.makedirs(args.output_dir, exist_ok=True)
    json_path = os.path.join(args.output_dir, "chunked_memory.json")
    png_path = os.path.join(args.output_dir, "chunked_memory.png")
    with open(json_path, "w") as f:
        json.dump({
            "description": __doc__.split("\n\n")[0],
            "config": dict(base, lengths=sorted(args.lengths), widths=sorted(args.widths),
                           width_length=args.width_length, ops=args.ops),
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count()},
            "length_sweep": length_rows,
            "width_check": width_rows,
        }, f, indent=1)
    plot(length_rows, width_rows, base, png_path)
    print(f"\nwrote {json_path}\nwrote {png_path}\n({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
