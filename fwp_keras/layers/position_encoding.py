"""PositionEncoding: sinusoidal or learned position vectors at given integer positions.

keras-hub's `SinePositionEncoding` and `PositionEmbedding` take one start index for the whole
batch; a left-padded batch of prompts needs a position per row (the first real token of every
row is position 0), so this layer takes the positions themselves.
"""

import math

import keras
from keras import ops

from fwp_keras import _validation as validation

KINDS = ("sinusoidal", "learned")


@keras.saving.register_keras_serializable(package="fwp_keras")
class PositionEncoding(keras.layers.Layer):
    """Position vectors `[B, T, hidden_dim]` for integer positions `[B, T]`.

    Args:
        kind: `"sinusoidal"` (Vaswani et al. 2017: sin / cos of `p / 10000^(2i / d)`) or
            `"learned"` (an embedding table of `max_sequence_length` rows).
        hidden_dim: the width of the vectors.
        max_sequence_length: rows of the learned table (required for `"learned"`); positions
            beyond it are an error there. Sinusoidal encodings have no limit.
    """

    def __init__(self, kind, hidden_dim, max_sequence_length=None, **kwargs):
        super().__init__(**kwargs)
        self.kind = validation.one_of("position_encoding", kind, KINDS)
        self.hidden_dim = validation.positive_integer("hidden_dim", hidden_dim)
        self.max_sequence_length = validation.positive_integer(
            "max_sequence_length", max_sequence_length, allow_none=True
        )
        if self.kind == "learned" and self.max_sequence_length is None:
            raise ValueError(
                "`position_encoding='learned'` needs `max_sequence_length`, the number of "
                "positions it learns. Received: max_sequence_length=None"
            )
        if self.kind == "learned":
            self.embedding = keras.layers.Embedding(
                self.max_sequence_length, self.hidden_dim, dtype=self.dtype_policy,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="embedding",
            )

    def build(self, positions_shape):
        if self.kind == "learned":
            self.embedding.build(positions_shape)

    def call(self, positions):
        if self.kind == "learned":
            return self.embedding(positions)
        half = self.hidden_dim // 2
        frequencies = ops.exp(
            ops.arange(half, dtype="float32") * (-math.log(10000.0) / max(half, 1))
        )
        angles = ops.cast(positions, "float32")[..., None] * frequencies
        encoding = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        if self.hidden_dim % 2:
            encoding = ops.pad(encoding, [(0, 0)] * (len(positions.shape)) + [(0, 1)])
        return ops.cast(encoding, self.compute_dtype)

    def compute_output_shape(self, positions_shape):
        return tuple(positions_shape) + (self.hidden_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "kind": self.kind,
            "hidden_dim": self.hidden_dim,
            "max_sequence_length": self.max_sequence_length,
        }
