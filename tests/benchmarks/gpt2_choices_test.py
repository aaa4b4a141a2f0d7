"""The GPT2 ablation's patches build the zoo's softmax LM with GPT2Backbone's activation and
token initializer, and only inside their context."""

import numpy as np
from keras_hub.src.utils.keras_utils import gelu_approximate

from benchmarks.references import gpt2_choices
from fwp_keras import zoo


def _backbone():
    return zoo.TransformerBackbone(vocabulary_size=2048, num_layers=1, num_heads=4, hidden_dim=128,
                                   intermediate_dim=512, position_encoding="learned",
                                   max_sequence_length=64, scale_embeddings=False)


def _token_stddev(backbone):
    return np.asarray(backbone.embeddings.token_embedding.embeddings).std()


def test_inside_the_context_the_zoo_model_draws_gpt2s_tokens_and_gelu():
    with gpt2_choices.gpt2_choices(tanh_gelu=True, token_stddev=0.01):
        backbone = _backbone()
    np.testing.assert_allclose(_token_stddev(backbone), 0.01, rtol=0.05)
    assert backbone.transformer_layers[0].activation is gelu_approximate


def test_outside_the_context_the_zoos_own_choices_are_back():
    with gpt2_choices.gpt2_choices(tanh_gelu=True, token_stddev=0.01):
        pass
    backbone = _backbone()
    np.testing.assert_allclose(_token_stddev(backbone), 0.02, rtol=0.05)  # unscaled: 0.02
    assert backbone.transformer_layers[0].activation is not gelu_approximate


def test_the_command_line_passes_everything_after_the_separator_to_fwp_train():
    args = gpt2_choices.parser().parse_args(["--tanh-gelu", "--", "lm", "--model", "transformer"])
    assert args.tanh_gelu and args.token_stddev is None
    assert args.train_argv == ["--", "lm", "--model", "transformer"]
