"""Keras layers: the feature maps phi and the fast weight attention layer."""

from fwp_keras.layers.fast_weight_attention import FastWeightAttention
from fwp_keras.layers.feature_maps import (
    DPFP,
    ELUPlusOne,
    FAVORPlus,
    l2_normalize,
    sum_normalize,
)
from fwp_keras.layers.feature_maps import get as get_feature_map

__all__ = [
    "DPFP",
    "ELUPlusOne",
    "FAVORPlus",
    "FastWeightAttention",
    "get_feature_map",
    "l2_normalize",
    "sum_normalize",
]
