"""DPFPCausalLMPreprocessor: the zoo's preprocessor for `DPFPCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.dpfp.dpfp_backbone import DPFPBackbone
from fwp_keras.zoo.dpfp.dpfp_tokenizer import DPFPTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `DPFPCausalLM`; its tokenizer a
    `DPFPTokenizer` or a `WordLevelTokenizer`."""

    backbone_cls = DPFPBackbone
    tokenizer_cls = DPFPTokenizer
