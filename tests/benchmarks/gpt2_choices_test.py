"""The GPT2 ablation's patches build the zoo's softmax LM with GPT2Backbone's choices, and
only inside their context."""

import numpy as np
from keras_hub.src.utils.keras_utils import gelu_approximate

from benchmarks.references import gpt2_choices
from fwp_keras import zoo


def _backbone():
    return zoo.TransformerBackbone(vocabulary_size=2048, num_layers=1, num_heads=4, hidden_dim=128,
                                   intermediate_dim=512, position_encoding="learned",
                                   max_sequence_length=64, scale_embeddings=False)


def _weights(backbone):
    return {w.path: np.asarray(w) for w in backbone.weights}


def test_inside_the_context_the_zoo_model_draws_gpt2s_weights_and_gelu():
    with gpt2_choices.gpt2_choices(dense_stddev=0.02, tanh_gelu=True, token_stddev=0.01):
        backbone = _backbone()
    weights = _weights(backbone)
    for name in ("self_attention/query/kernel", "feedforward_intermediate_dense/kernel",
                 "feedforward_output_dense/kernel"):
        np.testing.assert_allclose(weights[f"transformer_layer_0/{name}"].std(), 0.02, rtol=0.1)
    np.testing.assert_allclose(weights["embeddings/token_embedding/embeddings"].std(), 0.01,
                               rtol=0.05)
    assert backbone.transformer_layers[0].activation is gelu_approximate


def test_outside_the_context_keras_defaults_are_back():
    with gpt2_choices.gpt2_choices(dense_stddev=0.02, tanh_gelu=True, token_stddev=0.01):
        pass
    backbone = _backbone()
    weights = _weights(backbone)
    # glorot_uniform: variance 2 / (fan_in + fan_out) = 2 / 640 for the 128 x 512 kernel.
    np.testing.assert_allclose(weights["transformer_layer_0/feedforward_intermediate_dense/kernel"]
                               .std(), (2 / 640) ** 0.5, rtol=0.05)
    np.testing.assert_allclose(weights["embeddings/token_embedding/embeddings"].std(), 0.02,
                               rtol=0.05)
    assert backbone.transformer_layers[0].activation is not gelu_approximate


def test_the_command_line_passes_everything_after_the_separator_to_fwp_train():
    args = gpt2_choices.parser().parse_args(
        ["--dense-stddev", "0.02", "--", "lm", "--model", "transformer"])
    assert args.dense_stddev == 0.02 and not args.tanh_gelu and args.token_stddev is None
    assert args.train_argv == ["--", "lm", "--model", "transformer"]
