"""ZooSeq2SeqBackbone: what the zoo's encoder-decoder backbones share (keras-hub `Backbone`, as
`BartBackbone`): one token embedding for the joint source-target vocabulary (tied to the output
logits by default), position encoding, an encoder stack and a decoder stack with their final
layer norms, and keras-hub's seq2seq inputs. `FastWeightSeq2SeqBackbone` and
`TransformerSeq2SeqBackbone` supply the layers."""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.token_and_position_embedding import (
    TokenAndPositionEmbedding,
    positions_from_mask,
)
from fwp_keras.zoo.fast_weight.zoo_backbone import COMMON_ARGUMENTS, record_common_arguments
from fwp_keras.zoo.jax_state import KeepsJaxStateOnError
from fwp_keras.zoo.presets import NamedPresets


class ZooSeq2SeqBackbone(KeepsJaxStateOnError, NamedPresets, keras_hub.models.Backbone):
    """Base of the zoo's seq2seq backbones.

    Inputs: `{"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
    "decoder_padding_mask"}` (`[B, S]` and `[B, T]`); outputs: `{"encoder_sequence_output":
    [B, S, hidden_dim], "decoder_sequence_output": [B, T, hidden_dim]}`.

    `call_encoder_layer(layer, x, padding_mask)` and `call_decoder_layer(layer, y,
    decoder_padding_mask, encoder_output, encoder_padding_mask)` run one layer in the functional
    model. `num_layers` is the depth of each stack.
    """

    def __init__(self, encoder_layers, decoder_layers, call_encoder_layer, call_decoder_layer,
                 *, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 dropout, activation, position_encoding, max_sequence_length,
                 layer_norm_epsilon, tie_word_embeddings, scale_embeddings=True, dtype=None,
                 **kwargs):
        # === Layers ===
        self.embeddings = TokenAndPositionEmbedding(
            vocabulary_size, hidden_dim, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, dropout=dropout,
            tie_weights=tie_word_embeddings, scale_embeddings=scale_embeddings, dtype=dtype,
            name="embeddings",
        )
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers

        def layer_norm(name):
            return keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype,
                                                   name=name)

        self.encoder_layer_norm = layer_norm("encoder_layer_norm")
        self.decoder_layer_norm = layer_norm("decoder_layer_norm")

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
                         "decoder_padding_mask")
        }
        encoder_mask, decoder_mask = inputs["encoder_padding_mask"], inputs["decoder_padding_mask"]
        x = self.embeddings(inputs["encoder_token_ids"], positions_from_mask(encoder_mask))
        for layer in encoder_layers:
            x = call_encoder_layer(layer, x, encoder_mask)
        encoder_output = self.encoder_layer_norm(x)
        y = self.embeddings(inputs["decoder_token_ids"], positions_from_mask(decoder_mask))
        for layer in decoder_layers:
            y = call_decoder_layer(layer, y, decoder_mask, encoder_output, encoder_mask)
        super().__init__(
            inputs=inputs,
            outputs={"encoder_sequence_output": encoder_output,
                     "decoder_sequence_output": self.decoder_layer_norm(y)},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        record_common_arguments(self, locals())

    def encode(self, token_ids, padding_mask):
        """The encoder's outputs `[B, S, hidden_dim]` for source ids `[B, S]` (eager or
        traced, outside the functional graph: generation's first step)."""
        x = self.embeddings(token_ids, positions_from_mask(padding_mask))
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=padding_mask)
        return self.encoder_layer_norm(x)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in COMMON_ARGUMENTS})
        return config
