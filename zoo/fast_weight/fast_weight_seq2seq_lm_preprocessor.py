"""FastWeightSeq2SeqLMPreprocessor: keras-hub's `Seq2SeqLMPreprocessor` for the zoo's tokenizers."""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.presets import NamedPresets


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightSeq2SeqLMPreprocessor(NamedPresets, keras_hub.models.Seq2SeqLMPreprocessor):
    """`{"encoder_text", "decoder_text"}` -> `({"encoder_token_ids", "encoder_padding_mask",
    "decoder_token_ids", "decoder_padding_mask"}, labels, sample_weight)` for `fit`, and the
    generate pre/postprocessing (keras-hub's): sources packed as `<s> source </s>` (truncated
    to `encoder_sequence_length`), targets as `<s> target </s>`, the decoder prompt `<s>`.
    One tokenizer for both languages (a joint vocabulary, `FastWeightTokenizer`)."""

    backbone_cls = FastWeightSeq2SeqBackbone
    tokenizer_cls = FastWeightTokenizer

    def get_config(self):
        # keras-hub 0.32's Seq2SeqLMPreprocessor leaves its lengths out of the config: a
        # reloaded preset would pack to the 1024-token defaults.
        return {**super().get_config(),
                "encoder_sequence_length": self.encoder_sequence_length,
                "decoder_sequence_length": self.decoder_sequence_length}
