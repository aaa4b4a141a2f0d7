"""Retrieval presets (Sec. 6.1): the directories in `presets/`, registered with keras-hub by
name (`AssociativeRetrievalModel.from_preset("<name>")`)."""

import os

from fwp_keras.zoo.presets import register_presets
from fwp_keras.zoo.retrieval.associative_retrieval_model import AssociativeRetrievalModel

PRESETS_DIRECTORY = os.path.join(os.path.dirname(__file__), "presets")
backbone_presets = register_presets(PRESETS_DIRECTORY, AssociativeRetrievalModel)
