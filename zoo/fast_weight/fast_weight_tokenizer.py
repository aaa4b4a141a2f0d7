"""FastWeightTokenizer: a SentencePiece subword tokenizer for the zoo's language models.

Vocabularies are trained locally with keras-hub's `compute_sentence_piece_proto`
(`fwp_keras.zoo.train_sentence_piece_tokenizer`), whose ids are `<pad>` 0, `<unk>` 1, `<s>` 2,
`</s>` 3.
"""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.presets import NamedPresets


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightTokenizer(NamedPresets, keras_hub.tokenizers.SentencePieceTokenizer):
    """keras-hub's `SentencePieceTokenizer` with the start, end and pad tokens declared, so
    that `CausalLMPreprocessor` can pack and `generate` can stop at `</s>`."""

    backbone_cls = FastWeightBackbone

    def __init__(self, proto, **kwargs):
        self._add_special_token("<s>", "start_token")
        self._add_special_token("</s>", "end_token")
        self._add_special_token("<pad>", "pad_token")
        super().__init__(proto=proto, **kwargs)
