"""The cost of keeping non-finite inputs causal (`fwp_keras.ops._common.run_causally`).

The chunked and op forms must keep a NaN / inf at step t out of the outputs before t. The CPU
kernels of the ops do it inside (`tf_ops/cc/kernels/tensor_head_io.h`: one finiteness test per
chunk of k and of v); the keras.ops chunked form, and the op where a GPU is visible, are guarded
in Python (a few elementwise passes). This measures, in one process and side by side, forward +
backward (`sum(o)` and its gradients w.r.t. q, k, v and beta) of each guarded path against the
same program unguarded (see `_programs`), traced `tf.function`s, `--repeats` alternating runs
after a warm-up, medians and the median of the paired ratios; float32, B = 2, H = 8,
Dk = Dv = 64 (as `benchmarks.custom_ops`).

    KERAS_BACKEND=tensorflow python -m benchmarks.nonfinite_guard

Writes a markdown table to stdout and `benchmarks/results/nonfinite_guard.json`. The in-kernel
check cannot be switched off; its cost is the op's time before and after it (benchmarks/README).
"""

import argparse
import importlib
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fwp_keras import ops as fwp  # noqa: E402
from fwp_keras.ops import _common as common  # noqa: E402
from fwp_keras.tf_ops import load_custom_ops, memory_ops  # noqa: E402

# The modules, not the functions of the same names that fwp_keras.ops exports.
MODULES = {rule: importlib.import_module(f"fwp_keras.ops.{name}")
           for rule, name in (("sum", "linear_attention"), ("delta", "delta_rule"))}

HERE = os.path.dirname(os.path.abspath(__file__))
B, H, D = 2, 8, 64


def _inputs(length, seed=0):
    rng = np.random.default_rng(seed)

    def features():
        x = tf.nn.elu(tf.constant(rng.standard_normal((B, length, H, D)), tf.float32)) + 1
        return x / tf.reduce_sum(x, axis=-1, keepdims=True)

    v = tf.constant(rng.standard_normal((B, length, H, D)), tf.float32)
    beta = tf.sigmoid(tf.constant(rng.standard_normal((B, length, H)), tf.float32))
    return features(), features(), v, beta


FORMS = ("op", "op_python_guard", "chunked")


def _programs(rule, form):
    """(guarded, unguarded): functions of (q, k, v, beta) returning o.

    - "op": the public function on the op (the CPU kernels check for non-finite rows inside)
      vs `memory_ops` called directly: what the Python side adds;
    - "op_python_guard": `run_causally` around the op, as taken where a GPU is visible (the CUDA
      kernels do not check), vs the op alone;
    - "chunked": the public chunked form (guarded by `run_causally`) vs its `_chunked` alone.
    """
    has_beta = rule == "delta"
    program_module = MODULES[rule]

    def raw_program(q, k, v, beta, state):
        sequence = (q, k, v, beta) if has_beta else (q, k, v)
        if form == "chunked":
            return program_module._chunked(*sequence, state, False, 1e-6, 64)
        op = memory_ops.delta_rule if has_beta else memory_ops.linear_attention
        return op(*sequence, state, normalize=False, eps=1e-6)

    def unguarded(q, k, v, beta):
        return raw_program(q, k, v, beta, tf.zeros((B, H, D, D)))[0]

    def guarded(q, k, v, beta):
        if form == "op_python_guard":
            return common.run_causally(raw_program, q, k, v, beta if has_beta else None,
                                       tf.zeros((B, H, D, D)))[0]
        public = fwp.delta_rule if has_beta else fwp.linear_attention
        implementation = "chunked" if form == "chunked" else "op"
        return public(q, k, v, *([beta] if has_beta else []), implementation=implementation)

    return guarded, unguarded


def _forward_backward(program):
    @tf.function
    def run(q, k, v, beta):
        with tf.GradientTape() as tape:
            tape.watch([q, k, v, beta])
            loss = tf.reduce_sum(program(q, k, v, beta))
        return loss, tape.gradient(loss, [q, k, v, beta],
                                   unconnected_gradients=tf.UnconnectedGradients.ZERO)

    return run


def _time_ms(run, inputs):
    start = time.perf_counter()
    loss, _ = run(*inputs)
    float(loss)
    return (time.perf_counter() - start) * 1e3


def _paired_runs(first, second, inputs, repeats):
    """Alternating timed runs of two traced functions (after a warm-up of each), so that the
    drifts of a shared machine hit both alike; returns the two lists of times."""
    first(*inputs)
    second(*inputs)
    times = ([], [])
    for _ in range(repeats):
        times[0].append(_time_ms(first, inputs))
        times[1].append(_time_ms(second, inputs))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    load_custom_ops()
    rows = []
    for rule in ("sum", "delta"):
        for form in FORMS:
            for length in args.lengths:
                inputs = _inputs(length)
                guarded, unguarded = (_forward_backward(p) for p in _programs(rule, form))
                without, with_guard = _paired_runs(unguarded, guarded, inputs, args.repeats)
                rows.append({
                    "rule": rule, "form": form, "T": length,
                    "unguarded_ms": statistics.median(without),
                    "guarded_ms": statistics.median(with_guard),
                    "ratio": statistics.median(b / a for a, b in zip(without, with_guard)),
                    "unguarded_runs_ms": without, "guarded_runs_ms": with_guard,
                })
    print("| rule | form | T | without guard ms | with guard ms | median of paired ratios |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rule']} | {r['form']} | {r['T']} | {r['unguarded_ms']:.1f} | "
              f"{r['guarded_ms']:.1f} | {r['ratio']:.2f}x |")
    path = os.path.join(HERE, "results", "nonfinite_guard.json")
    with open(path, "w") as f:
        json.dump({"shape": {"B": B, "H": H, "Dk": D, "Dv": D}, "repeats": args.repeats,
                   "tensorflow": tf.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
