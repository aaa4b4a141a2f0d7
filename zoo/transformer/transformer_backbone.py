"""TransformerBackbone: the softmax-attention baseline of the zoo's language models."""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.zoo_backbone import ZooBackbone, check_sizes


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerBackbone(ZooBackbone):
    """The same stack as `FastWeightBackbone` with softmax attention: keras-hub's
    `TransformerDecoder(normalize_first=True)` blocks (pre-layer-norm, causal), the same
    embeddings and final layer norm, so that a model of the same arguments has the same size
    (the fast weight blocks add only their beta projections, with the delta rule).

    Args: as `FastWeightBackbone` without the memory's: `vocabulary_size, num_layers,
    num_heads, hidden_dim, intermediate_dim, dropout, activation, position_encoding
    ("sinusoidal" by default: softmax attention has no order of its own), max_sequence_length,
    layer_norm_epsilon, tie_word_embeddings, scale_embeddings, dtype`, and
    `kernel_initializer`: the attention and feed-forward kernels' (keras-hub's
    `TransformerDecoder` argument; GPT2 draws them from `RandomNormal(stddev=0.02)`).
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
        layers = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim, num_heads, dropout=dropout, activation=activation,
                layer_norm_epsilon=layer_norm_epsilon, normalize_first=True,
                kernel_initializer=kernel_initializer, dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        super().__init__(
            layers, lambda layer, x, padding_mask: layer(x, decoder_padding_mask=padding_mask),
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
