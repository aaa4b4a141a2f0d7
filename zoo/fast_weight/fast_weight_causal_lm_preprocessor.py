"""FastWeightCausalLMPreprocessor: keras-hub's `CausalLMPreprocessor` for the zoo's tokenizers."""

import keras
import keras_hub

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.presets import NamedPresets


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightCausalLMPreprocessor(NamedPresets, keras_hub.models.CausalLMPreprocessor):
    """Strings -> `({"token_ids", "padding_mask"}, labels, sample_weight)` for `fit`, and the
    generate pre/postprocessing; prompts are packed at the start of each row as keras-hub
    does (the model left-aligns them internally). Takes a `FastWeightTokenizer` or a
    `WordLevelTokenizer`."""

    backbone_cls = FastWeightBackbone
    tokenizer_cls = FastWeightTokenizer
