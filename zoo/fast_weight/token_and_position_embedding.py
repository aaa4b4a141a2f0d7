"""The input and output ends of every zoo language model: token embedding (optionally tied to
the output logits, keras-hub's `ReversibleEmbedding`), position encoding at per-row positions,
and embedding dropout.

Token vectors are drawn from N(0, 1 / hidden_dim) and scaled by sqrt(hidden_dim) on the way in
(Vaswani et al. 2017, Sec. 3.4): unit variance per dimension, the scale of sinusoidal positions,
while the tied output logits start at unit scale. Unscaled vectors drawn with stddev 0.02 (the
zoo's first presets, `scale_embeddings=False`) are 35 times smaller than sinusoidal positions:
the positions drown the tokens and models barely learn what the tokens are.
"""

import keras
import keras_hub

from fwp_keras import _validation as validation
from fwp_keras.layers.position_encoding import PositionEncoding

POSITION_ENCODINGS = (None, "sinusoidal", "learned")


@keras.saving.register_keras_serializable(package="fwp_keras")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """`token_ids [B, T]`, `positions [B, T]` -> `[B, T, hidden_dim]`; `logits(hidden)` maps
    back to the vocabulary (through the transposed embedding when `tie_weights=True`)."""

    def __init__(self, vocabulary_size, hidden_dim, position_encoding=None,
                 max_sequence_length=None, dropout=0.0, tie_weights=True, scale_embeddings=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = validation.positive_integer("vocabulary_size", vocabulary_size)
        self.hidden_dim = validation.positive_integer("hidden_dim", hidden_dim)
        self.position_encoding = validation.one_of(
            "position_encoding", position_encoding, POSITION_ENCODINGS
        )
        self.max_sequence_length = validation.positive_integer(
            "max_sequence_length", max_sequence_length, allow_none=True
        )
        self.dropout = dropout
        self.tie_weights = validation.boolean("tie_word_embeddings", tie_weights)
        self.scale_embeddings = validation.boolean("scale_embeddings", scale_embeddings)
        stddev = self.hidden_dim ** -0.5 if self.scale_embeddings else 0.02
        self.token_embedding = keras_hub.layers.ReversibleEmbedding(
            self.vocabulary_size, self.hidden_dim, tie_weights=self.tie_weights,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=stddev),
            dtype=self.dtype_policy, name="token_embedding",
        )
        self.position_layer = None
        if self.position_encoding is not None:
            self.position_layer = PositionEncoding(
                self.position_encoding, self.hidden_dim, self.max_sequence_length,
                dtype=self.dtype_policy, name="position_encoding",
            )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, token_ids_shape, positions_shape=None):
        self.token_embedding.build(token_ids_shape)
        if self.position_layer is not None:
            self.position_layer.build(token_ids_shape)

    def call(self, token_ids, positions, training=None):
        ids = validation.concrete_values(token_ids)  # None while traced: no values to check
        if ids is not None:
            validation.token_ids_in_vocabulary("token_ids", ids, self.vocabulary_size)
        x = self.token_embedding(token_ids)
        if self.scale_embeddings:
            x = x * keras.ops.cast(self.hidden_dim ** 0.5, x.dtype)
        if self.position_layer is not None:
            x = x + self.position_layer(positions)
        return self.dropout_layer(x, training=training)

    def logits(self, hidden):
        return self.token_embedding(hidden, reverse=True)

    def compute_output_shape(self, token_ids_shape, positions_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "hidden_dim": self.hidden_dim,
            "position_encoding": self.position_encoding,
            "max_sequence_length": self.max_sequence_length,
            "dropout": self.dropout,
            "tie_weights": self.tie_weights,
            "scale_embeddings": self.scale_embeddings,
        }


def positions_from_mask(padding_mask):
    """Per-row positions counted over real tokens: 0 at each row's first unpadded token (right-
    or left-padded alike), so a prompt has the same positions wherever it sits in its row."""
    counts = keras.ops.cumsum(keras.ops.cast(padding_mask, "int32"), axis=1)
    return keras.ops.maximum(counts - 1, 0)
