"""DeltaNetCausalLM: Delta Net (Schlag et al. 2021, Sec. 4) language model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone
from fwp_keras.zoo.delta_net.delta_net_causal_lm_preprocessor import DeltaNetCausalLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetCausalLM(FastWeightCausalLM):
    """`FastWeightCausalLM` on a `DeltaNetBackbone`: generation with the memory state as the
    cache, presets and export as described there."""

    backbone_cls = DeltaNetBackbone
    preprocessor_cls = DeltaNetCausalLMPreprocessor
