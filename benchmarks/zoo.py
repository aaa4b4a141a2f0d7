"""The zoo's language models: decoding, prefill, training steps and decoding memory (CPU, TF).

Models (`--models`): a Delta Net and a Linear Transformer LM (`fwp_keras.zoo`, 4 layers, hidden
256, 8 heads, feed-forward 1024, vocabulary 8192) and the softmax `TransformerCausalLM` of the
same size, whose cache is keras-hub's key/value cache; for training also the fastest softmax
Keras itself offers, the same stack (embeddings, pre-layer-norm blocks, tied head) on Keras'
`MultiHeadAttention(use_causal_mask=True)` (`keras_mha`) and on
`keras.ops.dot_product_attention(is_causal=True)` (`keras_sdpa`). Every "vs softmax" ratio is
against the fastest softmax model measured at that point. Each configuration runs in a fresh
process (`benchmarks.chunked_memory.run_one`):

- decode (batch 1 and 8, prompts of 512 / 2,048 / 8,192 tokens, all prompts of a model and
  batch in one process): the prefill (`_build_cache` over the prompt, traced) and then
  `--steps` greedy tokens in one traced `tf.while_loop` of one-token `call_with_cache` calls on
  the prefilled cache (the loop keras-hub's samplers run, without `generate`'s prefill in the
  timing), the medians of `--repeats` runs after a warm-up, the prompt lengths' decode runs
  interleaved round-robin; tokens/s per sequence = steps / decode time; prefill speed-up =
  prompt length x (one decode step) / prefill. Decoding memory: the peak RSS increase during
  one decode loop, and the bytes of the cache itself.
- train (T = 256 at batch 8; 2,048, 4,096 and 8,192 at batch 1): `fit` on random tokens, Adam,
  sparse cross-entropy on logits; the median step time of `--repeats` steps after 2 warm-up
  steps (a callback timing `on_train_batch_end`); tokens/s = B T / step time.

Softmax configurations whose attention scores and probabilities would not fit
(`--max-scores-gb`) are skipped, with the reason recorded.

    KERAS_BACKEND=tensorflow python -m benchmarks.zoo          # `make bench-zoo`

Writes markdown tables to stdout and `benchmarks/results/zoo.{json,md}` (`--output`).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

from benchmarks.chunked_memory import (
    _markdown,
    peak_rss_fields,
    run_one,
    start_peak_rss,
)

MODULE = "benchmarks.zoo"
RESULT_TAG = "ZOO_RESULT "
MODELS = ("delta_net", "linear_transformer", "transformer", "keras_mha", "keras_sdpa")
SOFTMAX = ("transformer", "keras_mha", "keras_sdpa")
DECODERS = ("delta_net", "linear_transformer", "transformer")  # the ones with a cache
LABELS = {"delta_net": "Delta Net", "linear_transformer": "Linear Transformer",
          "transformer": "Transformer (softmax, keras-hub decoder, KV cache)",
          "keras_mha": "softmax, Keras MultiHeadAttention",
          "keras_sdpa": "softmax, keras.ops.dot_product_attention"}
SIZE = dict(vocabulary_size=8192, num_layers=4, num_heads=8, hidden_dim=256,
            intermediate_dim=1024)
HERE = os.path.dirname(os.path.abspath(__file__))


def softmax_stack(attention):
    """The zoo's language model of `SIZE` (its embeddings and tied head, pre-layer-norm
    blocks) on Keras' own softmax attention: `"mha"` or `"sdpa"` (see the module)."""
    import keras

    from fwp_keras.zoo.fast_weight.token_and_position_embedding import (
        TokenAndPositionEmbedding,
        positions_from_mask,
    )

    hidden, heads = SIZE["hidden_dim"], SIZE["num_heads"]
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
    embeddings = TokenAndPositionEmbedding(SIZE["vocabulary_size"], hidden,
                                           position_encoding="sinusoidal")
    x = embeddings(token_ids, positions_from_mask(padding_mask))
    for _ in range(SIZE["num_layers"]):
        h = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        if attention == "mha":
            h = keras.layers.MultiHeadAttention(heads, hidden // heads)(h, h, use_causal_mask=True)
        else:
            h = dot_product_self_attention_layer()(heads)(h)
        x = x + h
        h = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        h = keras.layers.Dense(SIZE["intermediate_dim"], activation="gelu")(h)
        x = x + keras.layers.Dense(hidden)(h)
    logits = embeddings.logits(keras.layers.LayerNormalization(epsilon=1e-5)(x))
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, logits)


def dot_product_self_attention_layer():
    """The layer class (defined here: Keras loads in the worker processes only)."""
    import keras

    class DotProductSelfAttention(keras.layers.Layer):
        """Causal self-attention through `keras.ops.dot_product_attention`."""

        def __init__(self, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.num_heads = num_heads

        def build(self, shape):
            self.qkv = keras.layers.Dense(3 * shape[-1])
            self.qkv.build(shape)
            self.out = keras.layers.Dense(shape[-1])
            self.out.build(shape)

        def call(self, x):
            batch, length = keras.ops.shape(x)[0], keras.ops.shape(x)[1]
            heads = keras.ops.reshape(self.qkv(x), (batch, length, 3, self.num_heads, -1))
            q, k, v = (heads[:, :, i] for i in range(3))
            o = keras.ops.dot_product_attention(q, k, v, is_causal=True)
            return self.out(keras.ops.reshape(o, (batch, length, -1)))

    return DotProductSelfAttention


def build(model):
    import keras

    from fwp_keras import zoo

    keras.utils.set_random_seed(0)
    if model in ("keras_mha", "keras_sdpa"):
        return softmax_stack(model.split("_")[1])
    cls = {"delta_net": zoo.DeltaNetCausalLM, "linear_transformer": zoo.LinearTransformerCausalLM,
           "transformer": zoo.TransformerCausalLM}[model]
    lm = cls(cls.backbone_cls(**SIZE))
    lm.compile(sampler="greedy")
    return lm


def tokens(batch, length, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(4, SIZE["vocabulary_size"], (batch, length)).astype("int32")


def timed(fn, repeats):
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def decode_worker(config):
    """All prompt lengths of one model and batch in one process, the decode timings
    interleaved round-robin, so that their ratios are measured side by side."""
    import numpy as np
    import tensorflow as tf

    lm = build(config["model"])
    batch, steps = config["batch"], config["steps"]
    runs = {}
    for prompt in config["prompts"]:
        ids = tf.constant(tokens(batch, prompt))
        if config["model"] == "transformer":  # keras-hub's cache covers the whole width
            padded = tf.pad(ids, [[0, 0], [0, steps]])
            prefill = tf.function(lambda padded=padded: lm._build_cache(padded))
            step = (lambda token, cache, i, prompt=prompt:  # noqa: E731
                    lm.call_with_cache(token, cache, prompt + i))
        else:
            prefill = tf.function(lambda ids=ids: lm._build_cache(ids, tf.ones(ids.shape, "bool")))
            step = lambda token, cache, i: lm.call_with_cache(token, cache)  # noqa: E731

        @tf.function
        def decode(cache, first, step=step):
            """`steps` greedy tokens on a prefilled cache: the loop keras-hub's samplers run."""
            def body(i, token, cache):
                logits, _, cache = step(token, cache, i)
                return i + 1, tf.cast(tf.argmax(logits[:, -1], -1), "int32")[:, None], cache

            return tf.while_loop(lambda i, *_: i < steps, body, (0, first, cache))

        prefill_s, prefill_times = timed(prefill, config["repeats"])
        _, cache = prefill()
        decode(cache, ids[:, -1:])  # warm-up (tracing)
        runs[prompt] = dict(decode=decode, cache=cache, first=ids[:, -1:], times=[],
                            result={"prefill_s": prefill_s, "prefill_times": prefill_times})
    for _ in range(config["repeats"]):
        for run in runs.values():
            start = time.perf_counter()
            run["decode"](run["cache"], run["first"])
            run["times"].append(time.perf_counter() - start)
    results = {}
    for prompt, run in runs.items():
        result = run["result"]
        step_s = statistics.median(run["times"]) / steps
        result.update(decode_times=run["times"], decode_step_s=step_s,
                      tokens_per_s_per_sequence=1.0 / step_s,
                      prefill_speedup=prompt * step_s / result["prefill_s"],
                      cache_bytes=int(sum(np.prod(c.shape) * c.dtype.size
                                          for c in tf.nest.flatten(run["cache"]))))
        baseline = start_peak_rss()
        run["decode"](run["cache"], run["first"])
        result.update(peak_rss_fields(baseline))
        results[str(prompt)] = result
    return results


def train_worker(config):
    import keras
    import numpy as np

    lm = build(config["model"])
    lm.compile(optimizer=keras.optimizers.Adam(1e-4),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch, length, repeats = config["batch"], config["length"], config["repeats"]
    steps = repeats + 2
    ids = tokens(batch * steps, length + 1)
    x = {"token_ids": ids[:, :-1], "padding_mask": np.ones((batch * steps, length), bool)}

    class StepTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    times = StepTimes()
    lm.fit(x, ids[:, 1:], batch_size=batch, epochs=1, verbose=0, shuffle=False,
           callbacks=[times])
    durations = np.diff(times.ends)[2:].tolist()  # the first two steps trace
    median = statistics.median(durations)
    return {"step_s": median, "step_times": durations, "tokens_per_s": batch * length / median,
            "jit_compile": bool(lm.jit_compile)}


def worker(config):
    result = (decode_worker if config["kind"] == "decode" else train_worker)(config)
    print(RESULT_TAG + json.dumps(result), flush=True)


def scores_gb(batch, length, layers=1):
    """GiB of float32 attention scores and probabilities softmax keeps for `layers` layers (a
    prefill frees each layer's; training keeps every layer's for the backward)."""
    return 2 * layers * batch * SIZE["num_heads"] * length * length * 4 / 2**30


def measure(args):
    rows = []
    if "decode" in args.kinds:
        for batch in args.decode_batches:
            for model in [m for m in args.models if m in DECODERS]:
                prompts = [p for p in args.prompts if not (
                    model == "transformer" and scores_gb(batch, p) > args.max_scores_gb)]
                config = {"kind": "decode", "model": model, "batch": batch, "prompts": prompts,
                          "repeats": args.repeats, "steps": args.steps}
                results = run_one(config, args.timeout, module=MODULE, tag=RESULT_TAG)
                for prompt in args.prompts:
                    result = results.get(str(prompt)) or {"skipped": results.get(
                        "skipped", f"memory: its attention scores and probabilities take "
                        f"{scores_gb(batch, prompt):.0f} GiB")}
                    rows.append({"kind": "decode", "model": model, "batch": batch,
                                 "prompt": prompt, "result": result})
                report(rows[-len(args.prompts):])
                save(rows, args)
    if "train" in args.kinds:
        for batch, length in args.train_points:
            for model in args.models:
                config = {"kind": "train", "model": model, "batch": batch, "length": length,
                          "repeats": args.repeats}
                needed = scores_gb(batch, length, SIZE["num_layers"])
                if model in SOFTMAX and needed > args.max_scores_gb:
                    result = {"skipped": f"memory: its attention scores and probabilities "
                                         f"take {needed:.0f} GiB"}
                else:
                    result = run_one(config, args.timeout, module=MODULE, tag=RESULT_TAG)
                rows.append({**config, "result": result})
                report(rows[-1:])
                save(rows, args)
    return rows


def report(rows):
    for row in rows:
        summary = {k: v for k, v in row["result"].items() if not k.endswith("times")}
        print(f"{row['kind']} {row['model']} B={row['batch']} "
              f"T={row.get('prompt', row.get('length'))}: {summary}", file=sys.stderr, flush=True)


def _get(rows, kind, model, batch, length, key):
    for row in rows:
        if (row["kind"], row["model"], row["batch"]) == (kind, model, batch) and row.get(
                "prompt", row.get("length")) == length:
            return row["result"].get(key)
    return None


def _fastest_softmax(rows, kind, batch, length, key):
    """The fastest softmax model's `key` at a point, and which model it was."""
    found = [(_get(rows, kind, model, batch, length, key), model) for model in SOFTMAX]
    found = [(value, model) for value, model in found if value]
    return max(found) if found else (None, None)


def _fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def tables(rows):
    decode = [r for r in rows if r["kind"] == "decode"]
    out = []
    if decode:
        lines = []
        for row in decode:
            m, b, p = row["model"], row["batch"], row["prompt"]
            res = row["result"]
            rate = res.get("tokens_per_s_per_sequence")
            at_512 = _get(rows, "decode", m, b, 512, "tokens_per_s_per_sequence")
            softmax, _ = _fastest_softmax(rows, "decode", b, p, "tokens_per_s_per_sequence")
            lines.append([
                LABELS[m], str(b), str(p),
                _fmt(rate, 1) if rate else res.get("skipped", "-"),
                f"{rate / at_512:.2f}x" if rate and at_512 else "-",
                f"{rate / softmax:.1f}x" if rate and softmax and m not in SOFTMAX else "-",
                _fmt(res["prefill_s"] * 1e3 if "prefill_s" in res else None),
                f"{res['prefill_speedup']:.0f}x" if "prefill_speedup" in res else "-",
                _fmt(res["cache_bytes"] / 2**20, 1) if "cache_bytes" in res else "-",
                _fmt(res["peak_delta_bytes"] / 2**20, 1) if "peak_delta_bytes" in res else "-",
            ])
        out.append(_markdown(["model", "batch", "prompt", "decode tokens/s per sequence",
                              "vs prompt 512", "vs softmax", "prefill ms",
                              "prefill vs one-by-one", "cache MiB", "decode peak MiB"], lines))
    train = [r for r in rows if r["kind"] == "train"]
    if train:
        lines = []
        for row in train:
            m, b, t = row["model"], row["batch"], row["length"]
            res = row["result"]
            rate = res.get("tokens_per_s")
            softmax, fastest = _fastest_softmax(rows, "train", b, t, "tokens_per_s")
            lines.append([LABELS[m], str(b), str(t),
                          _fmt(rate) if rate else res.get("skipped", "-"),
                          _fmt(res["step_s"] * 1e3) if "step_s" in res else "-",
                          f"{rate / softmax:.2f}x ({fastest})" if rate and softmax
                          and m not in SOFTMAX else "-"])
        out.append(_markdown(["model", "batch", "T", "train tokens/s", "step ms",
                              "vs the fastest softmax"], lines))
    return "\n\n".join(out)


def save(rows, args):
    import keras
    import tensorflow as tf

    results = os.path.join(HERE, "results")
    os.makedirs(results, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "size": SIZE,
            "repeats": args.repeats}
    with open(os.path.join(results, f"{args.output}.json"), "w") as file:
        json.dump({"meta": meta, "rows": rows}, file, indent=1)
    with open(os.path.join(results, f"{args.output}.md"), "w") as file:
        file.write(tables(rows) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--kinds", nargs="+", default=["decode", "train"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--decode-batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--prompts", nargs="+", type=int, default=[512, 2048, 8192])
    parser.add_argument("--train-points", nargs="+", type=lambda s: tuple(map(int, s.split("x"))),
                        default=[(8, 256), (1, 2048), (1, 4096), (1, 8192)],
                        help="BATCHxLENGTH ...")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=64, help="decoded tokens per timing")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--output", default="zoo",
                        help="results go to benchmarks/results/<output>.{json,md}")
    parser.add_argument("--max-scores-gb", type=float, default=20.0,
                        help="skip softmax runs whose scores would take more GiB (here: 23 in all)")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    rows = measure(args)
    print(tables(rows))


if __name__ == "__main__":
    main()
