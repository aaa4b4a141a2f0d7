"""PerformerBackbone: Performer (Choromanski et al. 2021)."""

import keras

from fwp_keras.layers.feature_maps import FAVORPlus
from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone, fixed_by_family

def fixed_choices(num_random_features):
    """What the family fixes, in its language and translation models."""
    return dict(feature_map=keras.saving.serialize_keras_object(FAVORPlus(num_random_features, name="feature_map")),
                update_rule="sum", normalization="attention")


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerBackbone(FastWeightBackbone):
    """The Performer: FAVOR+ positive random features (Eq. 31-32, orthogonal, redrawn on
    every training batch), the sum rule and attention normalisation.

    Args:
        num_random_features: m, random features per head (Dk = 2m).
        **kwargs: the other arguments of `FastWeightBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 num_random_features=64, **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("PerformerBackbone", kwargs, fixed_choices(num_random_features)),
        )
        self.num_random_features = num_random_features

    def get_config(self):
        config = super().get_config()
        for fixed in fixed_choices(1):
            del config[fixed]
        config["num_random_features"] = self.num_random_features
        return config
