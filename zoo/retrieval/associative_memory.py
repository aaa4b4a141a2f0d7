"""AssociativeMemory: the single memory layer of the paper's Sec. 6.1 retrieval model."""

import keras
from keras import ops

from fwp_keras import _validation as validation
from fwp_keras.layers.fast_weight_attention import FastWeightAttention

MEMORIES = ("fast_weight", "softmax")


@keras.saving.register_keras_serializable(package="fwp_keras")
class AssociativeMemory(keras.layers.Layer):
    """Writes `L` associations, then answers queries from the memory after the last write.

    With `e` a learned key embedding and `v` the one-hot value (size `S = num_keys`), each write
    is the input `x = [e(key); v]`, each query `[e(query); 0]`:
        k = W_K x, v' = W_V x, beta = sigmoid(W_beta x)      (one fast-weight memory)
        q = W_Q e(query),  y = W_O (q S_L)                   (read after all L writes)
    `memory="fast_weight"` is a `FastWeightAttention` (any feature map, update rule and
    normalisation; the memory is `[num_heads, Dk, S]`). The query positions are marked as
    padding, so they read the memory without writing to it. `memory="softmax"` is softmax
    attention of the queries over the writes (keras' `MultiHeadAttention`), the paper's
    reference.

    Args:
        num_keys: `S`, the number of distinct keys and of values.
        key_dim: `d_key`, the size of the key embedding and of the projected keys and queries
            (64 in the paper); the memory's `d_dot` is what the feature map makes of it.
        num_heads: heads of the memory (1 in the paper).
        memory: `"fast_weight"` or `"softmax"`.
        feature_map: as in `FastWeightAttention` (ignored with `memory="softmax"`).
        update_rule: as in `FastWeightAttention` (ignored with `memory="softmax"`).
        normalization: as in `FastWeightAttention` (ignored with `memory="softmax"`).
        chunk_size: as in `FastWeightAttention` (ignored with `memory="softmax"`).
        implementation: as in `FastWeightAttention` (ignored with `memory="softmax"`).

    Call arguments: `keys [B, L]`, `values [B, L]`, `queries [B, Q]` (int, in `[0, S)`).
    Returns `[B, Q, S]`, the predicted value of each query.
    """

    def __init__(self, num_keys, key_dim=64, num_heads=1, memory="fast_weight",
                 feature_map="elu_plus_one", update_rule="sum", normalization="default",
                 chunk_size=64, implementation="auto", **kwargs):
        super().__init__(**kwargs)
        self.num_keys = validation.positive_integer("num_keys", num_keys)
        self.key_dim = validation.positive_integer("key_dim", key_dim)
        self.num_heads = validation.positive_integer("num_heads", num_heads)
        self.memory = validation.one_of("memory", memory, MEMORIES)
        if isinstance(feature_map, keras.layers.Layer):
            feature_map = keras.saving.serialize_keras_object(feature_map)
        self.feature_map = feature_map
        self.update_rule = update_rule
        self.normalization = normalization
        self.chunk_size = chunk_size
        self.implementation = implementation
        self.key_embedding = keras.layers.Embedding(
            num_keys, key_dim, dtype=self.dtype_policy, name="key_embedding")
        if memory == "fast_weight":
            self.attention = FastWeightAttention(
                num_heads, key_dim, value_dim=num_keys, output_dim=num_keys,
                feature_map=feature_map, update_rule=update_rule, normalization=normalization,
                chunk_size=chunk_size, implementation=implementation, dtype=self.dtype_policy,
                name="fast_weight_attention",
            )
            self.supports_jit = self.attention.supports_jit
        else:
            self.attention = keras.layers.MultiHeadAttention(
                num_heads, key_dim, value_dim=num_keys, output_shape=num_keys,
                dtype=self.dtype_policy, name="softmax_attention",
            )

    def build(self, keys_shape, values_shape=None, queries_shape=None):
        self.key_embedding.build(keys_shape)
        written = (None, None, self.key_dim + self.num_keys)
        if self.memory == "fast_weight":
            self.attention.build(written)
        else:
            self.attention.build((None, None, self.key_dim), written)

    def _written(self, keys, values):
        return ops.concatenate(
            [self.key_embedding(keys), ops.one_hot(values, self.num_keys, dtype=self.compute_dtype)],
            axis=-1,
        )

    def _memory_sequence(self, keys, values, queries):
        """The writes, then the queries as positions that read without writing."""
        asked = ops.pad(self.key_embedding(queries), ((0, 0), (0, 0), (0, self.num_keys)))
        sequence = ops.concatenate([self._written(keys, values), asked], axis=1)
        writes = ops.arange(ops.shape(sequence)[1])[None] < ops.shape(keys)[1]
        return sequence, ops.broadcast_to(writes, ops.shape(sequence)[:2])

    def call(self, keys, values, queries, training=None):
        if self.memory == "softmax":
            return self.attention(self.key_embedding(queries), self._written(keys, values),
                                  training=training)
        sequence, writes = self._memory_sequence(keys, values, queries)
        output = self.attention(sequence, padding_mask=writes, training=training)
        return output[:, ops.shape(keys)[1]:]

    def memory_statistics(self, keys, values, queries):
        """What the fast weight memory writes and reads at each of the `L` writes (see
        `FastWeightAttention.memory_statistics`; the query positions write nothing)."""
        if self.memory == "softmax":
            raise ValueError("Softmax attention has no fast weights to diagnose.")
        sequence, writes = self._memory_sequence(keys, values, queries)
        statistics = self.attention.memory_statistics(sequence, padding_mask=writes)
        return {name: value[:, :ops.shape(keys)[1]] for name, value in statistics.items()}

    def compute_output_shape(self, keys_shape, values_shape=None, queries_shape=None):
        return tuple(queries_shape or keys_shape) + (self.num_keys,)

    def get_config(self):
        return {
            **super().get_config(),
            "num_keys": self.num_keys,
            "key_dim": self.key_dim,
            "num_heads": self.num_heads,
            "memory": self.memory,
            "feature_map": self.feature_map,
            "update_rule": self.update_rule,
            "normalization": self.normalization,
            "chunk_size": self.chunk_size,
            "implementation": self.implementation,
        }
