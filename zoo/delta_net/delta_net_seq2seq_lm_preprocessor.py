"""DeltaNetSeq2SeqLMPreprocessor: the zoo's seq2seq preprocessor for `DeltaNetSeq2SeqLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.delta_net.delta_net_seq2seq_backbone import DeltaNetSeq2SeqBackbone
from fwp_keras.zoo.delta_net.delta_net_tokenizer import DeltaNetTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class DeltaNetSeq2SeqLMPreprocessor(FastWeightSeq2SeqLMPreprocessor):
    """`FastWeightSeq2SeqLMPreprocessor` for `DeltaNetSeq2SeqLM` (a joint SentencePiece vocabulary,
    `DeltaNetTokenizer`)."""

    backbone_cls = DeltaNetSeq2SeqBackbone
    tokenizer_cls = DeltaNetTokenizer
