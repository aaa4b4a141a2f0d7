"""LinearTransformer presets: the directories in `presets/`, registered with keras-hub by name
(language models and translation models side by side)."""

import os

from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_backbone import LinearTransformerSeq2SeqBackbone
from fwp_keras.zoo.presets import register_presets

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, LinearTransformerBackbone,
                                    LinearTransformerSeq2SeqBackbone)
