"""PerformerSeq2SeqBackbone: Performer (Choromanski et al. 2021), encoder-decoder."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import fixed_by_family
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.performer.performer_backbone import fixed_choices


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerSeq2SeqBackbone(FastWeightSeq2SeqBackbone):
    """The Performer as a translation model: FAVOR+ positive random features (Eq. 31-32,
    orthogonal, redrawn on every training batch, fixed for evaluation and generation), the sum
    rule and attention normalisation in every attention.

    Args:
        num_random_features: m, random features per head (Dk = 2m).
        **kwargs: the other arguments of `FastWeightSeq2SeqBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 num_random_features=64, **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("PerformerSeq2SeqBackbone", kwargs, fixed_choices(num_random_features)),
        )
        self.num_random_features = num_random_features

    def get_config(self):
        config = super().get_config()
        for fixed in fixed_choices(1):
            del config[fixed]
        config["num_random_features"] = self.num_random_features
        return config
