"""PerformerSeq2SeqLM: Performer (Choromanski et al. 2021) translation model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm import FastWeightSeq2SeqLM
from fwp_keras.zoo.performer.performer_seq2seq_backbone import PerformerSeq2SeqBackbone
from fwp_keras.zoo.performer.performer_seq2seq_lm_preprocessor import PerformerSeq2SeqLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerSeq2SeqLM(FastWeightSeq2SeqLM):
    """`FastWeightSeq2SeqLM` on a `PerformerSeq2SeqBackbone`: generation with the encoder's memories
    and the decoder's state as the cache, presets and export as described there."""

    backbone_cls = PerformerSeq2SeqBackbone
    preprocessor_cls = PerformerSeq2SeqLMPreprocessor
