"""LinearTransformerBackbone: Linear Transformer (Katharopoulos et al. 2020)."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone, fixed_by_family

# What the family fixes, in its language and translation models.
FIXED = dict(feature_map="elu_plus_one", update_rule="sum", normalization="attention")


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerBackbone(FastWeightBackbone):
    """The Linear Transformer: ELU+1 features (Eq. 30), the sum rule (Eq. 17) and attention
    normalisation (Eq. 19): `o_t = phi(q_t) S_t / (phi(q_t) . z_t)`.

    Args:
        **kwargs: the other arguments of `FastWeightBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("LinearTransformerBackbone", kwargs, FIXED),
        )

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            del config[fixed]
        return config
