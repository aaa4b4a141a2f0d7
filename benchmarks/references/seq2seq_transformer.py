"""The reference for the zoo's translation models: a plain seq2seq Transformer written from
keras-hub's public layers as keras.io's English-to-Spanish example writes it (a
`TokenAndPositionEmbedding` per side, `TransformerEncoder` / `TransformerDecoder` blocks,
post-layer-norm, a `Dense` output), trained exactly as `fwp-train mt` trains the zoo: the same
Multi30k batches, tokenizer, optimizer, schedule, per-token loss and budget. Decoded greedily
without a cache (every step a full forward pass), scored with sacrebleu on `val`.

    python -m benchmarks.references.seq2seq_transformer \\
        --tokenizer runs/mt/transformer/tokenizer --max-steps 3000 \\
        --output-dir runs/references/seq2seq

The same command resumes a killed run (`TrainingRun`); `results.json` holds the per-token
validation loss, NLL and perplexity, greedy BLEU and chrF. Side by side with `fwp-train mt
--model transformer` at the same flags, this is the baseline the zoo must meet (docs/results.md,
"Translation quality").
"""

import argparse
import json
import math
import shlex
import sys

import keras
import keras_hub
import numpy as np

from fwp_keras import datasets, zoo
from fwp_keras.training import translate
from fwp_keras.training.datasets import parallel_text
from fwp_keras.training.training_run import TrainingRun, run_flags
from fwp_keras.training.translation import compile_for_translation


def build_model(vocabulary_size, *, num_layers, hidden_dim, num_heads, intermediate_dim,
                dropout, max_sequence_length):
    """keras.io's translation Transformer on the zoo's seq2seq inputs: token ids and padding
    masks of both sides -> next-token logits `[B, T, vocabulary_size]`."""
    names = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
             "decoder_padding_mask")
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in names}

    def embedding(name):
        return keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size, max_sequence_length, hidden_dim, name=name)

    x = embedding("encoder_embedding")(inputs["encoder_token_ids"])
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim, num_heads, dropout=dropout, name=f"encoder_{i}",
        )(x, padding_mask=inputs["encoder_padding_mask"])
    y = embedding("decoder_embedding")(inputs["decoder_token_ids"])
    for i in range(num_layers):
        y = keras_hub.layers.TransformerDecoder(
            intermediate_dim, num_heads, dropout=dropout, name=f"decoder_{i}",
        )(y, x, decoder_padding_mask=inputs["decoder_padding_mask"],
          encoder_padding_mask=inputs["encoder_padding_mask"])
    logits = keras.layers.Dense(vocabulary_size, name="logits")(
        keras.layers.Dropout(dropout)(y))
    return keras.Model(inputs, logits, name="keras_hub_seq2seq_transformer")


def greedy_translate(model, tokenizer, sentences, *, encoder_sequence_length,
                     decoder_sequence_length, batch_size=128):
    """Greedy translations of `sentences`, one full forward pass per generated token (no
    cache), never padding or `<unk>` (as the zoo's `generate`)."""
    start, end, pad = tokenizer.start_token_id, tokenizer.end_token_id, tokenizer.pad_token_id
    suppressed = [pad, tokenizer.token_to_id("<unk>")]
    sources, _ = parallel_text.encode_pairs(
        tokenizer, sentences, [""] * len(sentences),
        encoder_sequence_length=encoder_sequence_length, decoder_sequence_length=2)
    translations = [None] * len(sentences)
    order = np.argsort([len(s) for s in sources], kind="stable")
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        width = max(len(sources[i]) for i in rows)
        source = np.full((len(rows), width), pad, np.int32)
        for r, i in enumerate(rows):
            source[r, :len(sources[i])] = sources[i]
        target = np.full((len(rows), 1), start, np.int32)
        done = np.zeros(len(rows), bool)
        while target.shape[1] < decoder_sequence_length and not done.all():
            logits = np.asarray(keras.ops.convert_to_numpy(model({
                "encoder_token_ids": source, "encoder_padding_mask": source != pad,
                "decoder_token_ids": target,
                "decoder_padding_mask": np.ones_like(target, bool)}, training=False)[:, -1]))
            logits[:, suppressed] = -np.inf
            token = np.where(done, pad, logits.argmax(-1)).astype(np.int32)
            target = np.concatenate([target, token[:, None]], axis=1)
            done |= token == end
        for r, i in enumerate(rows):
            ids = [t for t in target[r, 1:].tolist() if t != pad]
            ids = ids[:ids.index(end)] if end in ids else ids
            translations[i] = tokenizer.detokenize([ids])[0] if ids else ""
    return [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in translations]


def parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--tokenizer", required=True,
                        help="a tokenizer preset folder: the zoo model's it is compared with")
    parser.add_argument("--dataset", default="multi30k", choices=datasets.TRANSLATION_DATASETS)
    for flag, default in (("--num-layers", 2), ("--hidden-dim", 128), ("--num-heads", 4),
                          ("--intermediate-dim", 512), ("--encoder-sequence-length", 64),
                          ("--decoder-sequence-length", 64), ("--max-tokens", 4096),
                          ("--warmup-steps", 500), ("--max-steps", 3000), ("--eval-every", 250),
                          ("--seed", 0), ("--verbose", 2)):
        parser.add_argument(flag, type=int, default=default)
    for flag, default in (("--dropout", 0.1), ("--learning-rate", 1e-3),
                          ("--label-smoothing", 0.1), ("--clip-norm", 1.0)):
        parser.add_argument(flag, type=float, default=default)
    parser.add_argument("--bleu-sentences", type=int, help="only the first this many of val")
    return parser


def run(args):
    keras.utils.set_random_seed(args.seed)
    (sources, targets), (val_sources, val_targets) = (
        datasets.translation_pairs(args.dataset, split)
        for split in ("train", datasets.validation_split(args.dataset)))
    train_run = TrainingRun(args.output_dir, steps_per_epoch=args.eval_every,
                            max_steps=args.max_steps, flags=run_flags(args))
    tokenizer = zoo.load_tokenizer(args.tokenizer)
    lengths = dict(encoder_sequence_length=args.encoder_sequence_length,
                   decoder_sequence_length=args.decoder_sequence_length)
    model = compile_for_translation(build_model(
        tokenizer.vocabulary_size(), num_layers=args.num_layers, hidden_dim=args.hidden_dim,
        num_heads=args.num_heads, intermediate_dim=args.intermediate_dim,
        dropout=args.dropout, max_sequence_length=max(lengths.values()) + 1), args)
    train_pairs = parallel_text.encode_pairs(tokenizer, sources, targets, **lengths)
    val_pairs = parallel_text.encode_pairs(tokenizer, val_sources, val_targets, **lengths)
    data = parallel_text.token_batches(train_pairs, max_tokens=args.max_tokens, seed=args.seed,
                                       start_step=train_run.start_step)
    evaluation = parallel_text.token_batches(
        val_pairs, max_tokens=args.max_tokens, shuffle=False,
        num_steps=parallel_text.steps_per_pass(val_pairs, max_tokens=args.max_tokens))
    model(next(iter(evaluation))[0])  # built: the backup restores into built models only
    history = train_run.fit(model, data, evaluation, verbose=args.verbose)
    model.load_weights(train_run.best_weights)  # model selection on the validation loss
    final = model.evaluate(evaluation, verbose=0, return_dict=True)
    count = args.bleu_sentences or len(val_sources)
    hypotheses = greedy_translate(model, tokenizer, val_sources[:count], **lengths)
    scores = translate.corpus_scores(hypotheses, val_targets[:count])
    hypotheses_file = train_run.path("validation_hypotheses.txt")
    translate.write_lines(hypotheses_file, hypotheses)
    return train_run.write_results({
        "model": "keras-hub seq2seq Transformer (reference)",
        "command": shlex.join(["python", "-m", "benchmarks.references.seq2seq_transformer",
                               *sys.argv[1:]]),
        "parameters": model.count_params(), "steps": len(history) * args.eval_every,
        "validation_loss": final["loss"], "validation_nll": final["nll"],
        "validation_perplexity": math.exp(final["nll"]),
        "validation_accuracy": final["accuracy"], "validation_bleu": scores["bleu"],
        "validation_chrf": scores["chrf"], "bleu_signature": scores["bleu_signature"],
        "bleu_sentences": count, "num_beams": 1, "hypotheses": hypotheses_file})


def main(argv=None):
    results = run(parser().parse_args(argv))
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
