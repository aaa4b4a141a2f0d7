"""LinearTransformerCausalLMPreprocessor: the zoo's preprocessor for `LinearTransformerCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_tokenizer import LinearTransformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `LinearTransformerCausalLM`; its tokenizer a
    `LinearTransformerTokenizer` or a `WordLevelTokenizer`."""

    backbone_cls = LinearTransformerBackbone
    tokenizer_cls = LinearTransformerTokenizer
