"""PerformerCausalLMPreprocessor: the zoo's preprocessor for `PerformerCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.performer.performer_backbone import PerformerBackbone
from fwp_keras.zoo.performer.performer_tokenizer import PerformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `PerformerCausalLM`; its tokenizer a
    `PerformerTokenizer` or a `WordLevelTokenizer`."""

    backbone_cls = PerformerBackbone
    tokenizer_cls = PerformerTokenizer
