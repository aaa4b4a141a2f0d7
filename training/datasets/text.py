"""Language-modelling data from plain-text and WikiText-format files, as `tf.data`.

Text becomes one token stream: every non-empty line is tokenised and ends with the
tokenizer's end token (`</s>`, WikiText's `<eos>`). Documents are the files of a plain-text
corpus, and in WikiText (`wiki.*.tokens`) the articles, which start at their top-level
headings (` = Title = `). Two batchings of the stream (the paper's Sec. 6.3):

- `shuffled_segments`: the stream cut into segments of `L + 1` tokens (inputs and the labels
  shifted by one; consecutive segments share one token), drawn in a new random order every
  data epoch (Table 2: every segment an independent sequence).
- `contiguous_streams`: the stream cut into `B` contiguous parts, row `b` of batch `n + 1`
  continuing row `b` of batch `n` (Table 4: state carried across segments). Each batch also
  has `"reset": [B]`, true where the carried state must start again from zeros: at the first
  segment of every data epoch, and at the segment after one in which a new document began.

Batches are pure functions of `(seed, step)`: a run resumed at step `n` gets the batches an
uninterrupted run gets from `n` on.
"""

import os

import numpy as np
import tensorflow as tf

from fwp_keras import _validation as validation
from fwp_keras.datasets.documents import FORMATS as DOCUMENT_FORMATS, split_documents

FORMATS = ("auto", *DOCUMENT_FORMATS)


def _format(path, format):
    validation.one_of("format", format, FORMATS)
    if format != "auto":
        return format
    return "wikitext" if os.path.basename(path).endswith(".tokens") else "text"


def read_documents(paths, format="auto"):
    """The documents of `paths` (a path or a list), each a list of its non-empty lines: a
    plain-text file is one document, a WikiText file one per article."""
    paths = [os.fspath(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not paths:
        raise ValueError("No text files given: pass at least one.")
    found = []
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"Text file not found: {path!r}")
        with open(path, encoding="utf-8") as file:
            found += split_documents(file.read(), _format(path, format))
    if not found:
        raise ValueError(f"No text in {paths}: the files are empty.")
    return found


def tokenize_documents(documents, tokenizer):
    """`(token_ids, document_starts)`: the stream as one int32 array, and the position at
    which each document starts in it."""
    end = tokenizer.end_token_id
    lines = [line for document in documents for line in document]
    ids = tokenizer(tf.constant(lines))
    ids = ids.to_list() if hasattr(ids, "to_list") else [list(x) for x in ids]
    stream, starts, line = [], [], 0
    for document in documents:
        starts.append(len(stream))
        for ids_of_line in ids[line:line + len(document)]:
            stream.extend(int(i) for i in ids_of_line)
            stream.append(end)
        line += len(document)
    return np.asarray(stream, np.int32), np.asarray(starts, np.int64)


def _check(tokens, sequence_length, batch_size, rows_needed):
    sequence_length = validation.positive_integer("sequence_length", sequence_length)
    batch_size = validation.positive_integer("batch_size", batch_size)
    if rows_needed(sequence_length, batch_size) < 1:
        raise ValueError(
            f"The text has {len(tokens)} tokens: too few for one batch of {batch_size} x "
            f"(sequence_length={sequence_length} + 1). Use more text or smaller values.")
    return sequence_length, batch_size


def _example(segments, reset=None):
    inputs = {"token_ids": segments[:, :-1],
              # int32, as the backbone declares it: tf.distribute cannot split bools.
              "padding_mask": tf.ones_like(segments[:, :-1], tf.int32)}
    if reset is not None:
        inputs["reset"] = reset
    return inputs, segments[:, 1:]


def shuffled_segments(tokens, sequence_length, batch_size, *, seed=0, start_step=0,
                      num_steps=None, shuffle=True):
    """Batches of independent segments `[B, L]`, reshuffled every data epoch (in order with
    `shuffle=False`, e.g. for evaluation); endless when `num_steps` is None."""
    tokens = np.asarray(tokens, np.int32)
    sequence_length, batch_size = _check(
        tokens, sequence_length, batch_size, lambda l, b: (len(tokens) - 1) // l // b)
    count = (len(tokens) - 1) // sequence_length
    per_epoch = count // batch_size  # the last partial batch of each order is dropped
    starts = np.arange(count, dtype=np.int64) * sequence_length
    windows = tf.constant(starts[:, None] + np.arange(sequence_length + 1)[None])
    tokens = tf.constant(tokens)
    seed = tf.constant(seed, tf.int64)

    def batch(step):
        epoch, position = step // per_epoch, step % per_epoch
        index = position * batch_size + tf.range(batch_size, dtype=tf.int64)
        if shuffle:
            index = tf.random.experimental.index_shuffle(
                index, tf.stack([seed, epoch]), count - 1)
        return _example(tf.gather(tokens, tf.gather(windows, index)))

    return _steps(start_step, num_steps).map(batch).prefetch(tf.data.AUTOTUNE)


def contiguous_streams(tokens, sequence_length, batch_size, *, document_starts=(0,),
                       start_step=0, num_steps=None):
    """Batches whose row `b` continues row `b` of the previous batch (see the module)."""
    tokens = np.asarray(tokens, np.int32)
    sequence_length, batch_size = _check(
        tokens, sequence_length, batch_size,
        lambda l, b: ((len(tokens) - 1) // b - 1) // l)
    stream_length = (len(tokens) - 1) // batch_size  # each row's share of the stream
    per_epoch = (stream_length - 1) // sequence_length
    offsets = np.arange(batch_size, dtype=np.int64) * stream_length
    # A segment resets when a document begins anywhere in the segment before it.
    new_document = np.zeros(len(tokens) + 1, np.int64)
    new_document[np.asarray(document_starts, np.int64)[1:]] = 1
    documents_before = np.concatenate([[0], np.cumsum(new_document)])
    tokens = tf.constant(tokens)
    documents_before = tf.constant(documents_before)

    def batch(step):
        position = step % per_epoch
        begin = offsets + position * sequence_length
        segments = tf.gather(tokens, begin[:, None] + tf.range(sequence_length + 1, dtype=tf.int64))
        previous = tf.maximum(begin - sequence_length, 0)
        began = (tf.gather(documents_before, begin + 1)
                 > tf.gather(documents_before, previous + 1))
        reset = tf.logical_or(tf.equal(position, 0), began)
        return _example(segments, reset)

    return _steps(start_step, num_steps).map(batch).prefetch(tf.data.AUTOTUNE)


def _steps(start_step, num_steps):
    start_step = validation.integer("start_step", start_step, minimum=0)
    if num_steps is None:
        return tf.data.Dataset.counter(start_step)
    num_steps = validation.integer("num_steps", num_steps, minimum=0)
    return tf.data.Dataset.range(start_step, start_step + num_steps)
