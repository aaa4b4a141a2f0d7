"""ZooBackbone: what the zoo's backbones share (keras-hub `Backbone`): token embedding and
position encoding, a stack of decoder layers, the final layer norm, keras-hub's inputs
`{"token_ids", "padding_mask"}` and the common arguments. `FastWeightBackbone` and
`TransformerBackbone` supply the layers."""

import keras
import keras_hub

from fwp_keras import _validation as validation
from fwp_keras.zoo.fast_weight.token_and_position_embedding import (
    TokenAndPositionEmbedding,
    positions_from_mask,
)
from fwp_keras.zoo.jax_state import KeepsJaxStateOnError
from fwp_keras.zoo.presets import NamedPresets

COMMON_ARGUMENTS = ("vocabulary_size", "num_layers", "num_heads", "hidden_dim",
                    "intermediate_dim", "dropout", "activation", "position_encoding",
                    "max_sequence_length", "layer_norm_epsilon", "tie_word_embeddings",
                    "scale_embeddings")


def check_sizes(num_layers, num_heads, hidden_dim, intermediate_dim, need_divisible=True):
    num_layers = validation.positive_integer("num_layers", num_layers)
    num_heads = validation.positive_integer("num_heads", num_heads)
    hidden_dim = validation.positive_integer("hidden_dim", hidden_dim)
    intermediate_dim = validation.positive_integer("intermediate_dim", intermediate_dim)
    if need_divisible and hidden_dim % num_heads:
        raise ValueError(
            f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` ({num_heads})"
            + (" when `key_dim` is not given." if need_divisible == "key_dim" else ".")
        )
    return num_layers, num_heads, hidden_dim, intermediate_dim


def record_common_arguments(backbone, arguments):
    """Sets the `COMMON_ARGUMENTS` on a backbone from its constructor's `locals()`."""
    for name in COMMON_ARGUMENTS:
        setattr(backbone, name, arguments[name])
    backbone.vocabulary_size = backbone.embeddings.vocabulary_size


class ZooBackbone(KeepsJaxStateOnError, NamedPresets, keras_hub.models.Backbone):
    """Base of the zoo's backbones; `call_layer(layer, x, padding_mask)` runs one decoder
    layer in the functional model."""

    def __init__(self, layers, call_layer, *, vocabulary_size, num_layers, num_heads, hidden_dim,
                 intermediate_dim, dropout, activation, position_encoding, max_sequence_length,
                 layer_norm_epsilon, tie_word_embeddings, scale_embeddings=True, dtype=None,
                 **kwargs):
        # === Layers ===
        self.embeddings = TokenAndPositionEmbedding(
            vocabulary_size, hidden_dim, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, dropout=dropout,
            tie_weights=tie_word_embeddings, scale_embeddings=scale_embeddings, dtype=dtype,
            name="embeddings",
        )
        self.transformer_layers = layers
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="layer_norm"
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embeddings(token_ids, positions_from_mask(padding_mask))
        for layer in layers:
            x = call_layer(layer, x, padding_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs=self.layer_norm(x),
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        record_common_arguments(self, locals())

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in COMMON_ARGUMENTS})
        return config
