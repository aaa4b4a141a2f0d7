"""LinearTransformerSeq2SeqBackbone: Linear Transformer (Katharopoulos et al. 2020), encoder-decoder."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import fixed_by_family
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import FIXED


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerSeq2SeqBackbone(FastWeightSeq2SeqBackbone):
    """The Linear Transformer as a translation model: ELU+1 features (Eq. 30), the sum rule
    (Eq. 17) and attention normalisation (Eq. 19) in the encoder, the decoder's memory and the
    cross-attention.

    Args:
        **kwargs: the other arguments of `FastWeightSeq2SeqBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("LinearTransformerSeq2SeqBackbone", kwargs, FIXED),
        )

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            del config[fixed]
        return config
