"""DPFPSeq2SeqLM: DPFP (Schlag et al. 2021, Sec. 5.4) translation model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm import FastWeightSeq2SeqLM
from fwp_keras.zoo.dpfp.dpfp_seq2seq_backbone import DPFPSeq2SeqBackbone
from fwp_keras.zoo.dpfp.dpfp_seq2seq_lm_preprocessor import DPFPSeq2SeqLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPSeq2SeqLM(FastWeightSeq2SeqLM):
    """`FastWeightSeq2SeqLM` on a `DPFPSeq2SeqBackbone`: generation with the encoder's memories
    and the decoder's state as the cache, presets and export as described there."""

    backbone_cls = DPFPSeq2SeqBackbone
    preprocessor_cls = DPFPSeq2SeqLMPreprocessor
