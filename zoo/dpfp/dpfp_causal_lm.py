"""DPFPCausalLM: DPFP (Schlag et al. 2021, Sec. 5.4) language model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.dpfp.dpfp_backbone import DPFPBackbone
from fwp_keras.zoo.dpfp.dpfp_causal_lm_preprocessor import DPFPCausalLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPCausalLM(FastWeightCausalLM):
    """`FastWeightCausalLM` on a `DPFPBackbone`: generation with the memory state as the
    cache, presets and export as described there."""

    backbone_cls = DPFPBackbone
    preprocessor_cls = DPFPCausalLMPreprocessor
