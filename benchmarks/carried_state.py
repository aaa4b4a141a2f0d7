"""A carried-state training step against a segment step, in one process (CPU, TensorFlow).

`CarriedStateLM` (Table 4's training: the fast weights carried from batch to batch through
non-trainable variables and `call_with_cache`) against the same `FastWeightCausalLM` trained on
independent segments: the same weights, batch `[B, L]` of token ids, Adam with clipping and the
loss and metric of `fwp-train lm`; the median of `--repeats` `train_on_batch` calls after 3
that trace. Run times of separate `fwp-train` runs differ with the machine's load; this
compares the two steps side by side.

    KERAS_BACKEND=tensorflow python -m benchmarks.carried_state --preset PRESET_DIR
"""

import argparse
import statistics
import time

import keras
import keras_hub
import numpy as np

import fwp_keras.zoo  # noqa: F401  (registers the zoo's classes for from_preset)
from fwp_keras.training.carried_state import CarriedStateLM
from fwp_keras.training.language_modeling import compile_for_training


def step_ms(model, inputs, labels, repeats):
    weights = np.ones(labels.shape, "float32")
    for _ in range(3):
        model.train_on_batch(inputs, labels, sample_weight=weights)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(inputs, labels, sample_weight=weights)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, help="a fast weight CausalLM preset")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    def causal_lm():
        lm = keras_hub.models.CausalLM.from_preset(args.preset)
        lm.preprocessor = None  # the inputs are token ids
        return lm

    segment_lm = causal_lm()
    shape = (args.batch_size, args.sequence_length)
    token_ids = np.random.default_rng(0).integers(
        0, segment_lm.backbone.vocabulary_size, shape).astype("int32")
    segment = {"token_ids": token_ids, "padding_mask": np.ones(shape, bool)}
    carried = dict(segment, reset=np.zeros(shape[:1], bool))
    carried_lm = CarriedStateLM(causal_lm(), args.batch_size)
    for model in (segment_lm, carried_lm):  # as `fwp-train lm` compiles them
        compile_for_training(model, 1e-4, clip_norm=1.0)
    segment_ms = step_ms(segment_lm, segment, token_ids, args.repeats)
    carried_ms = step_ms(carried_lm, carried, token_ids, args.repeats)
    print(f"| training | B | L | ms / step | vs segments |\n|---:|---:|---:|---:|---:|\n"
          f"| segments | {shape[0]} | {shape[1]} | {segment_ms:.0f} | 1.00 |\n"
          f"| carried state | {shape[0]} | {shape[1]} | {carried_ms:.0f} | "
          f"{carried_ms / segment_ms:.2f} |")


if __name__ == "__main__":
    main()
