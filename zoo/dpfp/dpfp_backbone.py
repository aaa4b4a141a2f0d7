"""DPFPBackbone: DPFP (Schlag et al. 2021, Sec. 5.4)."""

import keras

from fwp_keras.layers.feature_maps import DPFP
from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone, fixed_by_family

def fixed_choices(nu):
    """What the family fixes, in its language and translation models."""
    return dict(feature_map=keras.saving.serialize_keras_object(DPFP(nu, name="feature_map")),
                update_rule="sum", normalization="attention")


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPBackbone(FastWeightBackbone):
    """The paper's deterministic parameter-free projection: DPFP-nu features (Eq. 37,
    Dk = 2 nu d), the sum rule and attention normalisation.

    Args:
        nu: the DPFP order (1 <= nu < 2 * key_dim); Dk = 2 * nu * key_dim.
        **kwargs: the other arguments of `FastWeightBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 nu=1, **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("DPFPBackbone", kwargs, fixed_choices(nu)),
        )
        self.nu = nu

    def get_config(self):
        config = super().get_config()
        for fixed in fixed_choices(1):
            del config[fixed]
        config["nu"] = self.nu
        return config
