"""Keras layers: the feature maps phi, the fast weight attention layer, the decoder and encoder
blocks."""

from fwp_keras.layers.fast_weight_attention import FastWeightAttention
from fwp_keras.layers.fast_weight_decoder_block import FastWeightDecoderBlock
from fwp_keras.layers.fast_weight_encoder_block import FastWeightEncoderBlock
from fwp_keras.layers.feature_maps import (
    DPFP,
    ELUPlusOne,
    FAVORPlus,
    l2_normalize,
    sum_normalize,
)
from fwp_keras.layers.feature_maps import get as get_feature_map
from fwp_keras.layers.position_encoding import PositionEncoding

__all__ = [
    "DPFP",
    "ELUPlusOne",
    "FAVORPlus",
    "FastWeightAttention",
    "FastWeightDecoderBlock",
    "FastWeightEncoderBlock",
    "PositionEncoding",
    "get_feature_map",
    "l2_normalize",
    "sum_normalize",
]
