"""DeltaNetCausalLMPreprocessor: the zoo's preprocessor for `DeltaNetCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone
from fwp_keras.zoo.delta_net.delta_net_tokenizer import DeltaNetTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetCausalLMPreprocessor(FastWeightCausalLMPreprocessor):
    """`FastWeightCausalLMPreprocessor` for `DeltaNetCausalLM`; its tokenizer a
    `DeltaNetTokenizer` or a `WordLevelTokenizer`."""

    backbone_cls = DeltaNetBackbone
    tokenizer_cls = DeltaNetTokenizer
