"""LinearTransformerTokenizer: the SentencePiece tokenizer of `LinearTransformerCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerTokenizer(FastWeightTokenizer):
    """The family's `FastWeightTokenizer`, so that `LinearTransformerTokenizer.from_preset` and
    `keras_hub.models.Tokenizer.from_preset` find a tokenizer class for its presets (they load
    the tokenizer a preset holds, e.g. a `WordLevelTokenizer`)."""

    backbone_cls = LinearTransformerBackbone
