"""DeltaNetTokenizer: the zoo's SentencePiece tokenizer for `DeltaNetCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetTokenizer(FastWeightTokenizer):
    """The family's `FastWeightTokenizer`, so that `DeltaNetTokenizer.from_preset` and
    `keras_hub.models.Tokenizer.from_preset` find a tokenizer class for its presets (they load
    the tokenizer a preset holds, e.g. a `WordLevelTokenizer`)."""

    backbone_cls = DeltaNetBackbone
