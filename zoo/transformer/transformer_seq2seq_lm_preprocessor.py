"""TransformerSeq2SeqLMPreprocessor: the zoo's seq2seq preprocessor for the softmax baseline."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.transformer.transformer_seq2seq_backbone import TransformerSeq2SeqBackbone
from fwp_keras.zoo.transformer.transformer_tokenizer import TransformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerSeq2SeqLMPreprocessor(FastWeightSeq2SeqLMPreprocessor):
    """`FastWeightSeq2SeqLMPreprocessor` for `TransformerSeq2SeqLM`."""

    backbone_cls = TransformerSeq2SeqBackbone
    tokenizer_cls = TransformerTokenizer
