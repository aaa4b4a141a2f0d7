"""DeltaNetSeq2SeqLM: Delta Net (Schlag et al. 2021, Sec. 4) translation model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm import FastWeightSeq2SeqLM
from fwp_keras.zoo.delta_net.delta_net_seq2seq_backbone import DeltaNetSeq2SeqBackbone
from fwp_keras.zoo.delta_net.delta_net_seq2seq_lm_preprocessor import DeltaNetSeq2SeqLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetSeq2SeqLM(FastWeightSeq2SeqLM):
    """`FastWeightSeq2SeqLM` on a `DeltaNetSeq2SeqBackbone`: generation with the encoder's memories
    and the decoder's state as the cache, presets and export as described there."""

    backbone_cls = DeltaNetSeq2SeqBackbone
    preprocessor_cls = DeltaNetSeq2SeqLMPreprocessor
