"""TransformerSeq2SeqBackbone: the softmax-attention baseline of the zoo's translation models."""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.zoo_backbone import check_sizes
from fwp_keras.zoo.fast_weight.zoo_seq2seq_backbone import ZooSeq2SeqBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerSeq2SeqBackbone(ZooSeq2SeqBackbone):
    """The same encoder-decoder as `FastWeightSeq2SeqBackbone` with softmax attention
    everywhere: keras-hub's `TransformerEncoder` and `TransformerDecoder` (with
    cross-attention), pre-layer-norm, the same embeddings, positions and final layer norms, so
    that a model of the same arguments has the same size (the fast weight decoder adds only
    its beta projections, with the delta rule).

    Args: as `FastWeightSeq2SeqBackbone` without the memory's: `vocabulary_size, num_layers,
    num_heads, hidden_dim, intermediate_dim, dropout, activation, position_encoding,
    max_sequence_length, layer_norm_epsilon, tie_word_embeddings, scale_embeddings, dtype`,
    and `kernel_initializer`: the attention and feed-forward kernels' (keras-hub's
    `TransformerEncoder` / `TransformerDecoder` argument).
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
        scale_embeddings=True,
        kernel_initializer="glorot_uniform",
        dtype=None,
        **kwargs,
    ):
        num_layers, num_heads, hidden_dim, intermediate_dim = check_sizes(
            num_layers, num_heads, hidden_dim, intermediate_dim
        )
        common = dict(dropout=dropout, activation=activation,
                      layer_norm_epsilon=layer_norm_epsilon, normalize_first=True,
                      kernel_initializer=kernel_initializer, dtype=dtype)
        encoder_layers = [
            keras_hub.layers.TransformerEncoder(intermediate_dim, num_heads,
                                                name=f"encoder_layer_{i}", **common)
            for i in range(num_layers)
        ]
        decoder_layers = [
            keras_hub.layers.TransformerDecoder(intermediate_dim, num_heads,
                                                name=f"decoder_layer_{i}", **common)
            for i in range(num_layers)
        ]
        super().__init__(
            encoder_layers, decoder_layers,
            lambda layer, x, mask: layer(x, padding_mask=mask),
            lambda layer, y, mask, encoder_output, encoder_mask: layer(
                y, encoder_sequence=encoder_output, decoder_padding_mask=mask,
                encoder_padding_mask=encoder_mask),
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
            activation=activation, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
            tie_word_embeddings=tie_word_embeddings, scale_embeddings=scale_embeddings,
            dtype=dtype, **kwargs,
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def get_config(self):
        return {**super().get_config(),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
