"""LinearTransformerSeq2SeqLM: Linear Transformer (Katharopoulos et al. 2020) translation model."""

import keras

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm import FastWeightSeq2SeqLM
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_backbone import LinearTransformerSeq2SeqBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_lm_preprocessor import LinearTransformerSeq2SeqLMPreprocessor


@keras.saving.register_keras_serializable(package="fwp_keras")
class LinearTransformerSeq2SeqLM(FastWeightSeq2SeqLM):
    """`FastWeightSeq2SeqLM` on a `LinearTransformerSeq2SeqBackbone`: generation with the encoder's memories
    and the decoder's state as the cache, presets and export as described there."""

    backbone_cls = LinearTransformerSeq2SeqBackbone
    preprocessor_cls = LinearTransformerSeq2SeqLMPreprocessor
