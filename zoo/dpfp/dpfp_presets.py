"""DPFP presets: the directories in `presets/`, registered with keras-hub by name
(language models and translation models side by side)."""

import os

from fwp_keras.zoo.dpfp.dpfp_backbone import DPFPBackbone
from fwp_keras.zoo.dpfp.dpfp_seq2seq_backbone import DPFPSeq2SeqBackbone
from fwp_keras.zoo.presets import register_presets

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, DPFPBackbone,
                                    DPFPSeq2SeqBackbone)
