"""Transformer presets: the directories in `presets/`, registered with keras-hub by name
(language models and translation models side by side)."""

import os

from fwp_keras.zoo.presets import register_presets
from fwp_keras.zoo.transformer.transformer_backbone import TransformerBackbone
from fwp_keras.zoo.transformer.transformer_seq2seq_backbone import TransformerSeq2SeqBackbone

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, TransformerBackbone,
                                    TransformerSeq2SeqBackbone)
