"""DPFPSeq2SeqLMPreprocessor: the zoo's seq2seq preprocessor for `DPFPSeq2SeqLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.dpfp.dpfp_seq2seq_backbone import DPFPSeq2SeqBackbone
from fwp_keras.zoo.dpfp.dpfp_tokenizer import DPFPTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFPSeq2SeqLMPreprocessor(FastWeightSeq2SeqLMPreprocessor):
    """`FastWeightSeq2SeqLMPreprocessor` for `DPFPSeq2SeqLM` (a joint SentencePiece vocabulary,
    `DPFPTokenizer`)."""

    backbone_cls = DPFPSeq2SeqBackbone
    tokenizer_cls = DPFPTokenizer
