"""Performer presets: the directories in `presets/`, registered with keras-hub by name
(language models and translation models side by side)."""

import os

from fwp_keras.zoo.performer.performer_backbone import PerformerBackbone
from fwp_keras.zoo.performer.performer_seq2seq_backbone import PerformerSeq2SeqBackbone
from fwp_keras.zoo.presets import register_presets

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, PerformerBackbone,
                                    PerformerSeq2SeqBackbone)
