"""LinearTransformerSeq2SeqLMPreprocessor: the zoo's seq2seq preprocessor for `LinearTransformerSeq2SeqLM`."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_backbone import LinearTransformerSeq2SeqBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_tokenizer import LinearTransformerTokenizer


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerSeq2SeqLMPreprocessor(FastWeightSeq2SeqLMPreprocessor):
    """`FastWeightSeq2SeqLMPreprocessor` for `LinearTransformerSeq2SeqLM` (a joint SentencePiece vocabulary,
    `LinearTransformerTokenizer`)."""

    backbone_cls = LinearTransformerSeq2SeqBackbone
    tokenizer_cls = LinearTransformerTokenizer
