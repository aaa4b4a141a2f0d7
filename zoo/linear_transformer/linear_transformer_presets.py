"""LinearTransformer presets: the directories in `presets/`, registered with keras-hub by name."""

import os

from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone
from fwp_keras.zoo.presets import register_presets

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, LinearTransformerBackbone)
