"""DeltaNetSeq2SeqBackbone: Delta Net (Schlag et al. 2021, Sec. 4), encoder-decoder."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import fixed_by_family
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.delta_net.delta_net_backbone import FIXED


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetSeq2SeqBackbone(FastWeightSeq2SeqBackbone):
    """Delta Net as a translation model: the decoder's memory is the delta rule with a learned
    write strength beta per head (Eq. 20-25) on sum-normalised keys and queries (Eq. 29); the
    encoder and the cross-attention read with linear attention over the same feature map.

    Args:
        feature_map: any feature map of `FastWeightAttention` (a name or a layer).
        **kwargs: the other arguments of `FastWeightSeq2SeqBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 feature_map="elu_plus_one", **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            feature_map=feature_map,
            **fixed_by_family("DeltaNetSeq2SeqBackbone", kwargs, FIXED),
        )

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            del config[fixed]
        return config
