"""TransformerBackbone: the softmax-attention baseline of the zoo's language models."""

import keras
import keras_hub

from fwp_keras import _validation as validation
from fwp_keras.zoo.presets import NamedPresets
from fwp_keras.zoo.fast_weight.token_and_position_embedding import (
    TokenAndPositionEmbedding,
    positions_from_mask,
)


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerBackbone(NamedPresets, keras_hub.models.Backbone):
    """The same stack as `FastWeightBackbone` with softmax attention: keras-hub's
    `TransformerDecoder(normalize_first=True)` blocks (pre-layer-norm, causal), the same
    embeddings and final layer norm, so that a model of the same arguments has the same size
    (the fast weight blocks add only their beta projections, with the delta rule).

    Args: as `FastWeightBackbone` without the memory's: `vocabulary_size, num_layers,
    num_heads, hidden_dim, intermediate_dim, dropout, activation, position_encoding
    ("sinusoidal" by default: softmax attention has no order of its own), max_sequence_length,
    layer_norm_epsilon, tie_word_embeddings, dtype`.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        position_encoding="sinusoidal",
        max_sequence_length=None,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        dtype=None,
        **kwargs,
    ):
        num_layers = validation.positive_integer("num_layers", num_layers)
        num_heads = validation.positive_integer("num_heads", num_heads)
        hidden_dim = validation.positive_integer("hidden_dim", hidden_dim)
        intermediate_dim = validation.positive_integer("intermediate_dim", intermediate_dim)
        if hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` ({num_heads})."
            )
        # === Layers ===
        self.embeddings = TokenAndPositionEmbedding(
            vocabulary_size, hidden_dim, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, dropout=dropout,
            tie_weights=tie_word_embeddings, dtype=dtype, name="embeddings",
        )
        self.transformer_layers = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim, num_heads, dropout=dropout, activation=activation,
                layer_norm_epsilon=layer_norm_epsilon, normalize_first=True, dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="layer_norm"
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embeddings(token_ids, positions_from_mask(padding_mask))
        for layer in self.transformer_layers:
            x = layer(x, decoder_padding_mask=padding_mask)
        sequence_output = self.layer_norm(x)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs=sequence_output,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = self.embeddings.vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.position_encoding = position_encoding
        self.max_sequence_length = max_sequence_length
        self.layer_norm_epsilon = layer_norm_epsilon
        self.tie_word_embeddings = tie_word_embeddings

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "position_encoding": self.position_encoding,
            "max_sequence_length": self.max_sequence_length,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "tie_word_embeddings": self.tie_word_embeddings,
        })
        return config
