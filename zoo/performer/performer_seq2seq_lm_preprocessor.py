"""PerformerSeq2SeqLMPreprocessor: the zoo's seq2seq preprocessor for `PerformerSeq2SeqLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.performer.performer_seq2seq_backbone import PerformerSeq2SeqBackbone
from fwp_keras.zoo.performer.performer_tokenizer import PerformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class PerformerSeq2SeqLMPreprocessor(FastWeightSeq2SeqLMPreprocessor):
    """`FastWeightSeq2SeqLMPreprocessor` for `PerformerSeq2SeqLM` (a joint SentencePiece vocabulary,
    `PerformerTokenizer`)."""

    backbone_cls = PerformerSeq2SeqBackbone
    tokenizer_cls = PerformerTokenizer
