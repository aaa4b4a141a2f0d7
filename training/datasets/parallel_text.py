"""Parallel text for translation: aligned files (one sentence a line, Multi30k's layout) to
`tf.data` batches of about `max_tokens` tokens, bucketed by length.

    sources, targets = read_parallel_text("train.en", "train.de")
    pairs = encode_pairs(tokenizer, sources, targets, encoder_sequence_length=64,
                         decoder_sequence_length=64)
    data = token_batches(pairs, max_tokens=4096, seed=0)          # endless, reshuffled
    validation = token_batches(pairs_val, max_tokens=4096, shuffle=False, num_steps=...)

Pairs are packed as keras-hub's `Seq2SeqLMPreprocessor` packs them (`<s> source </s>`,
decoder input `<s> target`, labels `target </s>`, the same truncation), so a model trained on these batches
translates strings through its preprocessor. A batch holds the pairs of one length bucket
(multiples of `bucket_width` tokens), padded to the bucket's width, as many as fit in
`max_tokens` (the Transformer recipe's token-count batches; few distinct shapes, so few traces).
Batches are a function of the step (a seeded plan per data epoch), so a resumed run gets the
batches the uninterrupted run would.
"""

import os
import warnings

import numpy as np
import tensorflow as tf

from fwp_keras import _validation as validation

def _read_lines(path, flag):
    if not os.path.isfile(path):
        raise ValueError(f"`{flag}`: no such file: {path!r}")
    with open(path, encoding="utf-8") as file:
        return file.read().splitlines()


def read_parallel_text(source_path, target_path, max_pairs=None):
    """`(sources, targets)`: the lines of two aligned files. Files of different line counts,
    or empty lines on either side, are a `ValueError` naming the files and the lines."""
    sources = _read_lines(source_path, "source")
    targets = _read_lines(target_path, "target")
    if len(sources) != len(targets):
        raise ValueError(
            f"The parallel files are not aligned: {source_path!r} has {len(sources)} lines and "
            f"{target_path!r} has {len(targets)}; they must have one sentence a line, the same "
            "number of lines.")
    if not sources:
        raise ValueError(f"{source_path!r} and {target_path!r} are empty.")
    for path, lines in ((source_path, sources), (target_path, targets)):
        empty = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if empty:
            raise ValueError(
                f"{path!r} has {len(empty)} empty line(s) (line {', '.join(map(str, empty[:5]))}"
                f"{', ...' if len(empty) > 5 else ''}): every line must hold a sentence "
                "aligned with the other file's line. Remove such pairs from both files.")
    if max_pairs is not None:
        max_pairs = validation.positive_integer("max_pairs", max_pairs)
        sources, targets = sources[:max_pairs], targets[:max_pairs]
    return sources, targets


def _tokenize(tokenizer, lines):
    ids = tokenizer(lines)
    ids = ids.to_list() if hasattr(ids, "to_list") else ids
    return [np.asarray(row, np.int32) for row in ids]


def encode_pairs(tokenizer, sources, targets, *, encoder_sequence_length,
                 decoder_sequence_length):
    """Token ids of each pair as the model sees them: `(encoder ids, target ids)` lists, the
    encoder side `<s> source </s>` (at most `encoder_sequence_length` tokens), the target side
    `<s> target </s>` (at most `decoder_sequence_length + 1`: input and labels are it shifted
    by one). Longer sentences are truncated, as the preprocessor truncates them, with one
    warning saying how many were."""
    if len(sources) != len(targets):
        raise ValueError(f"`sources` and `targets` must be aligned. Received {len(sources)} "
                         f"and {len(targets)} sentences.")
    encoder_sequence_length = validation.integer("encoder_sequence_length",
                                                 encoder_sequence_length, minimum=3)
    decoder_sequence_length = validation.integer("decoder_sequence_length",
                                                 decoder_sequence_length, minimum=2)
    start, end = tokenizer.start_token_id, tokenizer.end_token_id

    def pack(rows, limit, side):
        packed, cut = [], 0
        for row in rows:
            if len(row) + 2 > limit:
                row, cut = row[:limit - 2], cut + 1
            packed.append(np.concatenate([[start], row, [end]]).astype(np.int32))
        if cut:
            warnings.warn(
                f"{cut} of {len(rows)} {side} sentences are longer than {limit} tokens (with <s> "
                f"and </s>) and were truncated; raise --{side.split()[0]}-sequence-length to "
                "keep them whole.", stacklevel=3)
        return packed

    return (pack(_tokenize(tokenizer, sources), encoder_sequence_length, "encoder"),
            pack(_tokenize(tokenizer, targets), decoder_sequence_length + 1, "decoder"))


class _Plan:
    """The batches of one data epoch: pairs grouped by bucket, cut into token-count batches."""

    def __init__(self, pairs, max_tokens, bucket_width, multiple_of):
        encoder, target = pairs
        widths = np.array([max(len(e), len(t) - 1) for e, t in zip(encoder, target)])
        self.bucket_of = (np.ceil(widths / bucket_width) * bucket_width).astype(np.int64)
        self.buckets = sorted(set(self.bucket_of.tolist()))
        self.batch_size = {}
        for width in self.buckets:
            size = max(max_tokens // width, 1)
            self.batch_size[width] = max(size // multiple_of * multiple_of, multiple_of)
        self.multiple_of = multiple_of
        self.members = {w: np.flatnonzero(self.bucket_of == w) for w in self.buckets}
        self.per_epoch = len(self.batches(None))
        if not self.per_epoch:
            raise ValueError(f"No batch of {multiple_of} pairs (one per replica) can be made "
                             f"of {len(widths)} pairs.")

    def batches(self, rng):
        """`[(width, pair indices)]` of one epoch; shuffled within buckets and in order of
        batches with `rng`, in order without."""
        batches = []
        for width in self.buckets:
            members = self.members[width]
            if rng is not None:
                members = rng.permutation(members)
            size = self.batch_size[width]
            # Every replica gets rows: a bucket's last batch keeps a multiple of the replicas
            # (the few pairs left over change with the shuffle of every epoch).
            end = len(members) // self.multiple_of * self.multiple_of
            batches += [(width, members[i:min(i + size, end)]) for i in range(0, end, size)]
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches


def token_batches(pairs, *, max_tokens=4096, seed=0, start_step=0, num_steps=None,
                  shuffle=True, bucket_width=8, pad_id=0, multiple_of=1):
    """`tf.data` batches `({"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
    "decoder_padding_mask"}, labels, sample_weight)` of the `encode_pairs` output (see the
    module): endless and reshuffled every data epoch with `shuffle=True`, else in bucket order;
    `num_steps` batches from `start_step` (endless when None). `multiple_of`: every batch
    size is a multiple of it (the number of replicas; up to `multiple_of - 1` pairs of each
    bucket are then left out of a pass)."""
    max_tokens = validation.positive_integer("max_tokens", max_tokens)
    bucket_width = validation.positive_integer("bucket_width", bucket_width)
    multiple_of = validation.positive_integer("multiple_of", multiple_of)
    start_step = validation.integer("start_step", start_step, minimum=0)
    if num_steps is not None:
        num_steps = validation.integer("num_steps", num_steps, minimum=0)
    encoder, target = pairs
    if not encoder:
        raise ValueError("`pairs` is empty: there is nothing to batch.")
    plan = _Plan(pairs, max_tokens, bucket_width, multiple_of)

    def padded(rows, width):
        """`(ids [len(rows), width], mask)`: each row at the start, `pad_id` after it."""
        out = np.full((len(rows), width), pad_id, np.int32)
        for i, row in enumerate(rows):
            out[i, :len(row)] = row
        mask = np.arange(width)[None] < np.array([len(r) for r in rows])[:, None]
        # int32 masks, as the backbone's inputs are declared: tf.distribute cannot split bools.
        return out, mask.astype(np.int32)

    def generate():
        epoch, batches = None, None
        step = start_step
        while num_steps is None or step < start_step + num_steps:
            if step // plan.per_epoch != epoch:
                epoch = step // plan.per_epoch
                rng = np.random.default_rng([seed, epoch]) if shuffle else None
                batches = plan.batches(rng)
            width, members = batches[step % plan.per_epoch]
            source, source_mask = padded([encoder[i] for i in members], width)
            full_target, target_mask = padded([target[i] for i in members], width + 1)
            yield ({"encoder_token_ids": source, "encoder_padding_mask": source_mask,
                    "decoder_token_ids": full_target[:, :-1],
                    # Only `<s> target` is input (keras-hub's packer also marks the `</s>`
                    # after it, whose label is padding: the same loss, a width less).
                    "decoder_padding_mask": target_mask[:, 1:]},
                   full_target[:, 1:], target_mask[:, 1:].astype(np.float32))
            step += 1

    ids = tf.TensorSpec((None, None), tf.int32)
    mask = tf.TensorSpec((None, None), tf.int32)
    signature = ({"encoder_token_ids": ids, "encoder_padding_mask": mask,
                  "decoder_token_ids": ids, "decoder_padding_mask": mask},
                 ids, tf.TensorSpec((None, None), tf.float32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if num_steps is not None:  # Keras then knows where an evaluation ends (no "ran out" warning)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_steps))
    return dataset.prefetch(tf.data.AUTOTUNE)


def steps_per_pass(pairs, *, max_tokens=4096, bucket_width=8, multiple_of=1):
    """How many batches `token_batches` makes of one pass over `pairs`."""
    return _Plan(pairs, max_tokens, bucket_width, multiple_of).per_epoch
