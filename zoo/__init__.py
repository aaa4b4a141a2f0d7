"""Ready-made Linear Transformer, Performer, DPFP and Delta Net models and their presets.

keras-hub models (`Backbone`, `CausalLM` and `Seq2SeqLM` with their preprocessors, tokenizers):
`from_preset`, `generate` with keras-hub's samplers, `save_to_preset` and `fit` on strings work
as for any keras-hub model. `export_saved_model` writes a servable SavedModel.
"""

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm import FastWeightSeq2SeqLM
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.fast_weight.tokenizer_training import (
    load_tokenizer,
    train_sentence_piece_tokenizer,
    train_word_level_tokenizer,
)
from fwp_keras.zoo.fast_weight.word_level_tokenizer import WordLevelTokenizer
from fwp_keras.zoo.linear_transformer.linear_transformer_backbone import LinearTransformerBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_causal_lm import LinearTransformerCausalLM
from fwp_keras.zoo.linear_transformer.linear_transformer_causal_lm_preprocessor import (
    LinearTransformerCausalLMPreprocessor,
)
from fwp_keras.zoo.linear_transformer.linear_transformer_tokenizer import LinearTransformerTokenizer
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_backbone import LinearTransformerSeq2SeqBackbone
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_lm import LinearTransformerSeq2SeqLM
from fwp_keras.zoo.linear_transformer.linear_transformer_seq2seq_lm_preprocessor import (
    LinearTransformerSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.performer.performer_backbone import PerformerBackbone
from fwp_keras.zoo.performer.performer_causal_lm import PerformerCausalLM
from fwp_keras.zoo.performer.performer_causal_lm_preprocessor import PerformerCausalLMPreprocessor
from fwp_keras.zoo.performer.performer_tokenizer import PerformerTokenizer
from fwp_keras.zoo.performer.performer_seq2seq_backbone import PerformerSeq2SeqBackbone
from fwp_keras.zoo.performer.performer_seq2seq_lm import PerformerSeq2SeqLM
from fwp_keras.zoo.performer.performer_seq2seq_lm_preprocessor import (
    PerformerSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.dpfp.dpfp_backbone import DPFPBackbone
from fwp_keras.zoo.dpfp.dpfp_causal_lm import DPFPCausalLM
from fwp_keras.zoo.dpfp.dpfp_causal_lm_preprocessor import DPFPCausalLMPreprocessor
from fwp_keras.zoo.dpfp.dpfp_tokenizer import DPFPTokenizer
from fwp_keras.zoo.dpfp.dpfp_seq2seq_backbone import DPFPSeq2SeqBackbone
from fwp_keras.zoo.dpfp.dpfp_seq2seq_lm import DPFPSeq2SeqLM
from fwp_keras.zoo.dpfp.dpfp_seq2seq_lm_preprocessor import (
    DPFPSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.delta_net.delta_net_backbone import DeltaNetBackbone
from fwp_keras.zoo.delta_net.delta_net_causal_lm import DeltaNetCausalLM
from fwp_keras.zoo.delta_net.delta_net_causal_lm_preprocessor import DeltaNetCausalLMPreprocessor
from fwp_keras.zoo.delta_net.delta_net_tokenizer import DeltaNetTokenizer
from fwp_keras.zoo.delta_net.delta_net_seq2seq_backbone import DeltaNetSeq2SeqBackbone
from fwp_keras.zoo.delta_net.delta_net_seq2seq_lm import DeltaNetSeq2SeqLM
from fwp_keras.zoo.delta_net.delta_net_seq2seq_lm_preprocessor import (
    DeltaNetSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.transformer.transformer_backbone import TransformerBackbone
from fwp_keras.zoo.transformer.transformer_causal_lm import TransformerCausalLM
from fwp_keras.zoo.transformer.transformer_causal_lm_preprocessor import (
    TransformerCausalLMPreprocessor,
)
from fwp_keras.zoo.transformer.transformer_tokenizer import TransformerTokenizer
from fwp_keras.zoo.transformer.transformer_seq2seq_backbone import TransformerSeq2SeqBackbone
from fwp_keras.zoo.transformer.transformer_seq2seq_lm import TransformerSeq2SeqLM
from fwp_keras.zoo.transformer.transformer_seq2seq_lm_preprocessor import (
    TransformerSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.retrieval.associative_memory import AssociativeMemory
from fwp_keras.zoo.retrieval.associative_retrieval_model import (
    AssociativeRetrievalModel,
    squared_error,
)
from fwp_keras.zoo.export import export_saved_model
from fwp_keras.zoo.presets import record_training
# Registers the shipped presets of every family with keras-hub, by name.
from fwp_keras.zoo.delta_net import delta_net_presets  # noqa: F401
from fwp_keras.zoo.dpfp import dpfp_presets  # noqa: F401
from fwp_keras.zoo.linear_transformer import linear_transformer_presets  # noqa: F401
from fwp_keras.zoo.performer import performer_presets  # noqa: F401
from fwp_keras.zoo.retrieval import retrieval_presets  # noqa: F401
from fwp_keras.zoo.transformer import transformer_presets  # noqa: F401

__all__ = [
    "FastWeightBackbone",
    "FastWeightCausalLM",
    "FastWeightCausalLMPreprocessor",
    "FastWeightSeq2SeqBackbone",
    "FastWeightSeq2SeqLM",
    "FastWeightSeq2SeqLMPreprocessor",
    "FastWeightTokenizer",
    "load_tokenizer",
    "train_sentence_piece_tokenizer",
    "train_word_level_tokenizer",
    "WordLevelTokenizer",
    "LinearTransformerBackbone",
    "LinearTransformerCausalLM",
    "LinearTransformerCausalLMPreprocessor",
    "LinearTransformerTokenizer",
    "LinearTransformerSeq2SeqBackbone",
    "LinearTransformerSeq2SeqLM",
    "LinearTransformerSeq2SeqLMPreprocessor",
    "PerformerBackbone",
    "PerformerCausalLM",
    "PerformerCausalLMPreprocessor",
    "PerformerTokenizer",
    "PerformerSeq2SeqBackbone",
    "PerformerSeq2SeqLM",
    "PerformerSeq2SeqLMPreprocessor",
    "DPFPBackbone",
    "DPFPCausalLM",
    "DPFPCausalLMPreprocessor",
    "DPFPTokenizer",
    "DPFPSeq2SeqBackbone",
    "DPFPSeq2SeqLM",
    "DPFPSeq2SeqLMPreprocessor",
    "DeltaNetBackbone",
    "DeltaNetCausalLM",
    "DeltaNetCausalLMPreprocessor",
    "DeltaNetTokenizer",
    "DeltaNetSeq2SeqBackbone",
    "DeltaNetSeq2SeqLM",
    "DeltaNetSeq2SeqLMPreprocessor",
    "TransformerBackbone",
    "TransformerCausalLM",
    "TransformerCausalLMPreprocessor",
    "TransformerTokenizer",
    "TransformerSeq2SeqBackbone",
    "TransformerSeq2SeqLM",
    "TransformerSeq2SeqLMPreprocessor",
    "AssociativeMemory",
    "AssociativeRetrievalModel",
    "squared_error",
    "export_saved_model",
    "record_training",
]
