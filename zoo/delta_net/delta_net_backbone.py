"""DeltaNetBackbone: Delta Net (Schlag et al. 2021, Sec. 4)."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone, fixed_by_family

# What the family fixes, in its language and translation models.
FIXED = dict(update_rule="delta", normalization="sum")


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetBackbone(FastWeightBackbone):
    """The paper's Delta Net: the delta rule with a learned write strength beta per head
    (Eq. 20-25) on sum-normalised keys and queries (Eq. 29), with any feature map.

    Args:
        feature_map: any feature map of `FastWeightAttention` (a name or a layer).
        **kwargs: the other arguments of `FastWeightBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 feature_map="elu_plus_one", **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            feature_map=feature_map,
            **fixed_by_family("DeltaNetBackbone", kwargs, FIXED),
        )

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            del config[fixed]
        return config
