"""Shared helpers of the training tests: a tiny language model per family, float64 NLL."""

import keras
import numpy as np

from fwp_keras import zoo

VOCABULARY = 37
FAMILIES = {
    "delta_net": zoo.DeltaNetCausalLM,
    "linear_transformer": zoo.LinearTransformerCausalLM,
    "dpfp": zoo.DPFPCausalLM,
    "transformer": zoo.TransformerCausalLM,
}


def tiny_lm(family="delta_net", **kwargs):
    keras.utils.set_random_seed(0)
    cls = FAMILIES[family]
    config = dict(vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16,
                  intermediate_dim=24, **kwargs)
    if family != "transformer":
        config.setdefault("chunk_size", 4)
    return cls(cls.backbone_cls(**config))


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def nll_float64(logits, targets):
    """-log p(target) per position from logits, in float64 NumPy."""
    logits = to_np(logits).astype(np.float64)
    logits -= logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, np.asarray(targets)[..., None], -1)[..., 0]
