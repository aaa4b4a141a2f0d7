"""DPFPSeq2SeqBackbone: DPFP (Schlag et al. 2021, Sec. 5.4), encoder-decoder."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_backbone import fixed_by_family
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.dpfp.dpfp_backbone import fixed_choices


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPSeq2SeqBackbone(FastWeightSeq2SeqBackbone):
    """DPFP as a translation model: DPFP-nu features (Eq. 37, Dk = 2 nu d), the sum rule and
    attention normalisation in every attention.

    Args:
        nu: the DPFP order (1 <= nu < 2 * key_dim); Dk = 2 * nu * key_dim.
        **kwargs: the other arguments of `FastWeightSeq2SeqBackbone` (the sizes `vocabulary_size`,
            `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`, then
            `key_dim`, `dropout`, ...), except those this family fixes.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 nu=1, **kwargs):
        super().__init__(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
            **fixed_by_family("DPFPSeq2SeqBackbone", kwargs, fixed_choices(nu)),
        )
        self.nu = nu

    def get_config(self):
        config = super().get_config()
        for fixed in fixed_choices(1):
            del config[fixed]
        config["nu"] = self.nu
        return config
