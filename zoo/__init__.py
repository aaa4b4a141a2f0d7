"""Ready-made Linear Transformer, Performer, DPFP and Delta Net models and their presets.

keras-hub models (`Backbone`, `CausalLM`, `CausalLMPreprocessor`, tokenizers): `from_preset`,
`generate` with keras-hub's samplers, `save_to_preset` and `fit` on strings work as for any
keras-hub model. `export_saved_model` writes a servable SavedModel.
"""

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.fast_weight.tokenizer_training import (
    train_sentence_piece_tokenizer,
    train_word_level_tokenizer,
)
from fwp_keras.zoo.fast_weight.word_level_tokenizer import WordLevelTokenizer
