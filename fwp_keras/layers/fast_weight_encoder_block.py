"""FastWeightEncoderBlock: the encoder block of a fast weight encoder-decoder model."""

import keras

from fwp_keras.layers.fast_weight_decoder_block import FastWeightDecoderBlock


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightEncoderBlock(FastWeightDecoderBlock):
    """`FastWeightDecoderBlock`'s pre-layer-norm block with bidirectional linear attention:
    every position reads the memory `sum_s phi(k_s)^T v_s` of the whole (unpadded) sequence
    (DESIGN Sec. 3, non-causal form), then the feed-forward layer.

    Args: those of `FastWeightDecoderBlock`; the update rule is the sum rule (a bidirectional
    memory has no order of writes) and there is no cross-attention.
    """

    causal = False

    def __init__(self, num_heads, intermediate_dim, **kwargs):
        if kwargs.get("cross_attention"):
            raise ValueError("An encoder block has no cross-attention. "
                             "Received: cross_attention=True")
        super().__init__(num_heads, intermediate_dim, **kwargs)

    def call(self, inputs, padding_mask=None, training=None, mask=None):
        return super().call(inputs, padding_mask=padding_mask, training=training, mask=mask)

    def get_config(self):
        config = super().get_config()
        del config["cross_attention"]
        return config
