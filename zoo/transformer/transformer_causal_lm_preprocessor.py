"""TransformerCausalLMPreprocessor: the zoo's preprocessor for the softmax baseline."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.transformer.transformer_backbone import TransformerBackbone
from fwp_keras.zoo.transformer.transformer_tokenizer import TransformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `TransformerCausalLM`; its tokenizer a
    `TransformerTokenizer` or a `WordLevelTokenizer`."""

    backbone_cls = TransformerBackbone
    tokenizer_cls = TransformerTokenizer
