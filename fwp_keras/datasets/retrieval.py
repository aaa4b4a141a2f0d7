"""The synthetic associative-retrieval task of the paper's Section 6.1, as `tf.data`.

A sequence writes `L` associations `(key, value)`, keys and values both drawn from `S` symbols
(`num_keys`); each value enters the model as a fixed one-hot vector of size `S`. Queries come
after all writes; the target of a query is the one-hot vector of the *latest* value written
under its key.

- Setting 1 (capacity, Fig. 2): `L = S`, the keys a permutation of all `S` (sampled without
  replacement), each with a value drawn uniformly (with replacement).
- Setting 2 (overwriting, Fig. 3): `L = 2S`, keys sampled with replacement, so keys are
  re-assigned and only their most recent value counts. So that every key can be queried (the
  evaluation asks all `S`), the `2S` keys are all `S` once plus `S` drawn uniformly with
  replacement, in random order: about `S` re-assignments per sequence.

Every batch is a pure function of `(seed, split, step)` (stateless random ops), so a run
resumed at step `n` sees exactly the batches an uninterrupted run sees from step `n` on.
"""

import tensorflow as tf

from fwp_keras import _validation as validation

SETTINGS = (1, 2)
EVALUATION_SEQUENCES = 20  # the paper's evaluation: 20 sequences x all S queries
_TRAIN, _EVALUATION = 0, 1


def sequence_length(num_keys, setting):
    """`L`, the writes of a sequence: `S` in setting 1 (every key once), `2 S` in setting 2
    (keys re-assigned)."""
    return num_keys * validation.one_of("setting", setting, SETTINGS)


def retrieval_batch(seed, step, *, num_keys, setting, batch_size, num_queries=1,
                    all_queries=False, split=_TRAIN):
    """One batch: `({"keys": [B, L], "values": [B, L], "queries": [B, Q]}, targets [B, Q, S])`.

    `all_queries=True` asks every key once, in order (`Q = S`); else `num_queries` keys drawn
    uniformly per sequence.
    """
    s = num_keys
    length = sequence_length(s, setting)
    seed = tf.random.experimental.stateless_fold_in(tf.constant([seed, split], tf.int64), step)
    order_seed, extra_seed, value_seed, query_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    if setting == 1:
        keys = tf.argsort(tf.random.stateless_uniform((batch_size, s), order_seed), axis=1)
    else:
        extra = tf.random.stateless_uniform((batch_size, s), extra_seed, 0, s, tf.int32)
        pool = tf.concat([tf.tile(tf.range(s)[None], (batch_size, 1)), extra], axis=1)
        order = tf.argsort(tf.random.stateless_uniform((batch_size, length), order_seed), axis=1)
        keys = tf.gather(pool, order, batch_dims=1)
    values = tf.random.stateless_uniform((batch_size, length), value_seed, 0, s, tf.int32)
    if all_queries:
        queries = tf.tile(tf.range(s)[None], (batch_size, 1))
    else:
        queries = tf.random.stateless_uniform((batch_size, num_queries), query_seed, 0, s,
                                              tf.int32)
    # The latest write of each query's key: the largest position whose key matches.
    matches = tf.equal(keys[:, None, :], queries[:, :, None])  # [B, Q, L]
    positions = tf.where(matches, tf.range(length)[None, None], -1)
    latest = tf.reduce_max(positions, axis=-1)
    targets = tf.one_hot(tf.gather(values, latest, batch_dims=1), s)
    inputs = {"keys": tf.cast(keys, tf.int32), "values": values, "queries": queries}
    return inputs, targets


def retrieval_dataset(num_keys, setting, *, batch_size=32, seed=0, start_step=0, num_steps=None,
                      num_queries=1):
    """Training batches `start_step, start_step + 1, ...` (endless when `num_steps` is None)."""
    num_keys = validation.positive_integer("num_keys", num_keys)
    batch_size = validation.positive_integer("batch_size", batch_size)
    num_queries = validation.positive_integer("num_queries", num_queries)
    setting = validation.one_of("setting", setting, SETTINGS)
    start_step = validation.integer("start_step", start_step, minimum=0)
    if num_steps is None:
        steps = tf.data.Dataset.counter(start_step)
    else:
        num_steps = validation.integer("num_steps", num_steps, minimum=0)
        steps = tf.data.Dataset.range(start_step, start_step + num_steps)
    return steps.map(
        lambda step: retrieval_batch(seed, step, num_keys=num_keys, setting=setting,
                                     batch_size=batch_size, num_queries=num_queries),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    ).prefetch(tf.data.AUTOTUNE)


def retrieval_evaluation_data(num_keys, setting, *, seed=0,
                              num_sequences=EVALUATION_SEQUENCES):
    """The paper's evaluation set: `num_sequences` fixed sequences, each queried with all `S`
    keys; one batch, independent of the training batches (another split of the seed)."""
    num_keys = validation.positive_integer("num_keys", num_keys)
    num_sequences = validation.positive_integer("num_sequences", num_sequences)
    setting = validation.one_of("setting", setting, SETTINGS)
    return retrieval_batch(seed, 0, num_keys=num_keys, setting=setting,
                           batch_size=num_sequences, all_queries=True, split=_EVALUATION)


def load_data(num_keys, setting, *, seed=0, num_sequences=EVALUATION_SEQUENCES):
    """`(inputs, targets)` as NumPy arrays: the evaluation set of `retrieval_evaluation_data`
    (`inputs`: `{"keys", "values", "queries"}`; `targets`: `[num_sequences, S, S]` one-hot).
    `retrieval_dataset` is the endless training stream, as `tf.data`."""
    inputs, targets = retrieval_evaluation_data(num_keys, setting, seed=seed,
                                                num_sequences=num_sequences)
    return {name: value.numpy() for name, value in inputs.items()}, targets.numpy()
