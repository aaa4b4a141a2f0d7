"""DeltaNet presets: the directories in `presets/`, registered with keras-hub by name
(language models and translation models side by side)."""

import os

from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone
from fwp_keras.zoo.delta_net.delta_net_seq2seq_backbone import DeltaNetSeq2SeqBackbone
from fwp_keras.zoo.presets import register_presets

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, DeltaNetBackbone,
                                    DeltaNetSeq2SeqBackbone)
