"""LinearTransformerTokenizer: the zoo's SentencePiece tokenizer for `LinearTransformerCausalLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerTokenizer(FastWeightTokenizer):
    """`FastWeightTokenizer` of the Linear Transformer family: `LinearTransformerTokenizer.from_preset` and
    `keras_hub.models.Tokenizer.from_preset` find it from the family's presets (and load the
    tokenizer a preset holds, e.g. a `WordLevelTokenizer`)."""

    backbone_cls = LinearTransformerBackbone
