"""DeltaNetCausalLMPreprocessor: the zoo's preprocessor for `DeltaNetCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `DeltaNetCausalLM` (the same tokenizers)."""

    backbone_cls = DeltaNetBackbone
