"""The model flags `fwp-train lm` and `fwp-train mt` share, and the backbone they build."""

import argparse

# The families `--model` names (each task's MODELS maps them to its classes; arguments_test
# keeps them equal).
FAMILIES = ("delta_net", "dpfp", "linear_transformer", "performer", "transformer")


def add_model_arguments(parser, kind, num_layers, hidden_dim, intermediate_dim):
    """The "model" group: `--model` (a family or a `kind` preset), the sizes (with these
    defaults) and each family's own knob."""
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="delta_net",
                       help=f"one of {list(FAMILIES)}, or a {kind} preset")
    model.add_argument("--num-layers", type=int, default=num_layers)
    model.add_argument("--hidden-dim", type=int, default=hidden_dim)
    model.add_argument("--num-heads", type=int, default=4)
    model.add_argument("--intermediate-dim", type=int, default=intermediate_dim)
    model.add_argument("--dropout", type=float, default=0.1)
    model.add_argument("--nu", type=int, default=1, help="DPFP's nu")
    model.add_argument("--num-features", type=int, default=32, help="Performer's m")
    model.add_argument("--feature-map", default="elu_plus_one", help="Delta Net's feature map")
    model.add_argument("--position-encoding", choices=("sinusoidal", "learned", "none"),
                       help="default: the family's (language models: none for fast weights, "
                            "sinusoidal for softmax; translation models: sinusoidal)")
    model.add_argument("--max-sequence-length", type=int, default=512,
                       help="positions of a learned position encoding")
    model.add_argument("--tie-word-embeddings", action=argparse.BooleanOptionalAction,
                       default=True, help="the output logits through the transposed token "
                                          "embedding (--no-tie-word-embeddings: a Dense layer)")
    model.add_argument("--initializer-range", type=float,
                       help="transformer: its attention and feed-forward kernels drawn from "
                            "N(0, this), GPT2's 0.02 (default: Keras' glorot_uniform)")
    model.add_argument("--scale-embeddings", action=argparse.BooleanOptionalAction,
                       default=True, help="token vectors times sqrt(hidden_dim), drawn "
                                          "N(0, 1/hidden_dim) (--no-scale-embeddings: stddev "
                                          "0.02, unscaled, as the zoo's first presets)")


def build_backbone(cls, args, vocabulary_size):
    """`--model`'s backbone class `cls` at the flags' sizes, with its family's knob."""
    options = {"performer": dict(num_random_features=args.num_features),
               "dpfp": dict(nu=args.nu), "delta_net": dict(feature_map=args.feature_map)}
    if args.initializer_range is not None:
        if args.model != "transformer" or not args.initializer_range > 0:
            raise ValueError("`--initializer-range` must be a number > 0 and goes with "
                             "`--model transformer` only. Received: --initializer-range "
                             f"{args.initializer_range} with --model {args.model}")
        import keras

        options["transformer"] = dict(kernel_initializer=keras.initializers.RandomNormal(
            stddev=args.initializer_range))
    positions = {}
    if args.position_encoding is not None:
        positions["position_encoding"] = (None if args.position_encoding == "none"
                                          else args.position_encoding)
        if args.position_encoding == "learned":
            positions["max_sequence_length"] = args.max_sequence_length
    return cls.backbone_cls(
        vocabulary_size=vocabulary_size, num_layers=args.num_layers, num_heads=args.num_heads,
        hidden_dim=args.hidden_dim, intermediate_dim=args.intermediate_dim,
        dropout=args.dropout, scale_embeddings=args.scale_embeddings,
        tie_word_embeddings=args.tie_word_embeddings, **positions,
        **options.get(args.model, {}))
