"""`fwp-train` with the two choices of keras-hub's `GPT2Backbone` that the zoo's flags cannot
set, for the ablations between the zoo's softmax language model and its GPT2 reference
(docs/results.md, "Tables 2 and 4"): `TransformerDecoder`'s GELU in the tanh form, and token
embeddings drawn from N(0, 0.01). With `--position-encoding learned --max-sequence-length 256
--no-scale-embeddings --initializer-range 0.02` and both, the zoo's `TransformerCausalLM`
computes GPT2's model.

    python -m benchmarks.references.gpt2_choices --tanh-gelu --token-stddev 0.01 -- \\
        lm --dataset shakespeare --model transformer --position-encoding learned \\
        --max-sequence-length 256 --no-scale-embeddings --initializer-range 0.02 \\
        --max-steps 4000 --eval-every 500 --output-dir runs/lm_ablation/transformer_gpt2_recipe

A preset such a run writes records `activation="gelu"`: reloaded, it computes the exact GELU,
not the tanh form it was trained with (an ablation's model, not one to ship).
"""

import argparse
import contextlib
import sys

import keras
import keras_hub
from keras_hub.src.utils.keras_utils import gelu_approximate  # GPT2Backbone's activation


def parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tanh-gelu", action="store_true",
                        help="TransformerDecoder's GELU in its tanh form (GPT2's)")
    parser.add_argument("--token-stddev", type=float,
                        help="token embeddings from N(0, this) (GPT2: 0.01)")
    parser.add_argument("train_argv", nargs=argparse.REMAINDER,
                        help="after `--`: the fwp-train command line (`lm ...`)")
    return parser


@contextlib.contextmanager
def gpt2_choices(tanh_gelu=False, token_stddev=None):
    """Within it, keras-hub's `TransformerDecoder` and `ReversibleEmbedding` (the zoo's token
    embedding) are built with the given GPT2 choices; `False`/`None` keeps the zoo's own."""
    decoder_init = keras_hub.layers.TransformerDecoder.__init__
    embedding_init = keras_hub.layers.ReversibleEmbedding.__init__

    def decoder(self, *args, **kwargs):
        if tanh_gelu:
            kwargs["activation"] = gelu_approximate
        decoder_init(self, *args, **kwargs)

    def embedding(self, *args, **kwargs):
        if token_stddev is not None:
            kwargs["embeddings_initializer"] = keras.initializers.RandomNormal(
                stddev=token_stddev)
        embedding_init(self, *args, **kwargs)

    keras_hub.layers.TransformerDecoder.__init__ = decoder
    keras_hub.layers.ReversibleEmbedding.__init__ = embedding
    try:
        yield
    finally:
        keras_hub.layers.TransformerDecoder.__init__ = decoder_init
        keras_hub.layers.ReversibleEmbedding.__init__ = embedding_init


def main(argv=None):
    from fwp_keras.training.cli import train

    args = parser().parse_args(argv)
    train_argv = args.train_argv[1:] if args.train_argv[:1] == ["--"] else args.train_argv
    with gpt2_choices(args.tanh_gelu, args.token_stddev):
        return train(train_argv)


if __name__ == "__main__":
    sys.exit(main())
