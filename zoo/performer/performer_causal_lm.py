"""PerformerCausalLM: Performer (Choromanski et al. 2021) language model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.performer.performer_backbone import PerformerBackbone
from fwp_keras.zoo.performer.performer_causal_lm_preprocessor import PerformerCausalLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerCausalLM(FastWeightCausalLM):
    """`FastWeightCausalLM` on a `PerformerBackbone`: generation with the memory state as the
    cache, presets and export as described there."""

    backbone_cls = PerformerBackbone
    preprocessor_cls = PerformerCausalLMPreprocessor
