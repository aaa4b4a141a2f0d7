"""The reference for the zoo's language models: keras-hub's own `GPT2CausalLM` (a
`GPT2Backbone` of the zoo model's size: learned positions, pre-layer-norm blocks, tied
embeddings), trained exactly as `fwp-train lm` trains the zoo: the same provided dataset,
tokenizer, segments, optimizer, schedule and budget. Validation perplexity as `fwp-train lm`
reports it, and the sliding-window perplexity of `fwp-evaluate lm` on the test split.

    python -m benchmarks.references.gpt2_language_model --dataset shakespeare \\
        --tokenizer runs/lm/transformer/tokenizer --max-steps 4000 \\
        --output-dir runs/references/gpt2

Side by side with `fwp-train lm --model transformer` at the same flags, this is the baseline
the zoo's softmax language model must meet (docs/results.md).
"""

import argparse
import json
import math
import shlex
import sys

import keras
import keras_hub

from fwp_keras import datasets, zoo
from fwp_keras.training import evaluate
from fwp_keras.training.datasets import text
from fwp_keras.training.language_modeling import compile_for_training, learning_rate_schedule
from fwp_keras.training.training_run import TrainingRun, run_flags


def parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--tokenizer", required=True,
                        help="a tokenizer preset folder: the zoo model's it is compared with")
    parser.add_argument("--dataset", default="shakespeare", choices=datasets.TEXT_DATASETS)
    for flag, default in (("--num-layers", 2), ("--hidden-dim", 128), ("--num-heads", 4),
                          ("--intermediate-dim", 512), ("--sequence-length", 256),
                          ("--batch-size", 16), ("--warmup-steps", 200), ("--max-steps", 4000),
                          ("--eval-every", 500), ("--eval-batches", 20), ("--seed", 0),
                          ("--test-tokens", 8192), ("--verbose", 2)):
        parser.add_argument(flag, type=int, default=default)
    for flag, default in (("--dropout", 0.1), ("--learning-rate", 1e-3), ("--clip-norm", 1.0)):
        parser.add_argument(flag, type=float, default=default)
    return parser


def run(args):
    keras.utils.set_random_seed(args.seed)
    tokenizer = zoo.load_tokenizer(args.tokenizer)
    streams = {split: text.tokenize_documents(datasets.text_documents(args.dataset, split),
                                              tokenizer)[0]
               for split in ("train", datasets.validation_split(args.dataset), "test")}
    train, validation, test = streams.values()
    train_run = TrainingRun(args.output_dir, steps_per_epoch=args.eval_every,
                            max_steps=args.max_steps, flags=run_flags(args))
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=args.num_layers,
        num_heads=args.num_heads, hidden_dim=args.hidden_dim,
        intermediate_dim=args.intermediate_dim, dropout=args.dropout,
        max_sequence_length=args.sequence_length)
    causal_lm = compile_for_training(keras_hub.models.GPT2CausalLM(backbone, preprocessor=None),
                                     learning_rate_schedule(args), args.clip_norm)
    length, batch = args.sequence_length, args.batch_size
    data = text.shuffled_segments(train, length, batch, seed=args.seed,
                                  start_step=train_run.start_step)
    evaluation = text.shuffled_segments(
        validation, length, batch, shuffle=False,
        num_steps=min(args.eval_batches, (len(validation) - 1) // length // batch))
    causal_lm(next(iter(evaluation))[0])  # built: the backup restores into built models only
    history = train_run.fit(causal_lm, data, evaluation, verbose=args.verbose)
    final = causal_lm.evaluate(evaluation, verbose=0, return_dict=True)
    sliding = evaluate.sliding_window(causal_lm, test[:args.test_tokens], length, batch_size=64,
                                      progress=False)
    return train_run.write_results({
        "model": "keras-hub GPT2CausalLM (reference)",
        "command": shlex.join(["python", "-m", "benchmarks.references.gpt2_language_model",
                               *sys.argv[1:]]),
        "parameters": causal_lm.count_params(), "steps": len(history) * args.eval_every,
        "validation_loss": final["loss"], "validation_perplexity": math.exp(final["loss"]),
        "test_sliding_window": sliding})


def main(argv=None):
    results = run(parser().parse_args(argv))
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
