"""LinearTransformerCausalLM: Linear Transformer (Katharopoulos et al. 2020) language model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_causal_lm_preprocessor import LinearTransformerCausalLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerCausalLM(FastWeightCausalLM):
    """`FastWeightCausalLM` on a `LinearTransformerBackbone`: generation with the memory state as the
    cache, presets and export as described there."""

    backbone_cls = LinearTransformerBackbone
    preprocessor_cls = LinearTransformerCausalLMPreprocessor
