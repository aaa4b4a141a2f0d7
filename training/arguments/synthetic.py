"""`fwp-train synthetic`: the associative-retrieval task of the paper's Sec. 6.1 on `model.fit`.

    fwp-train synthetic --setting 2 --num-keys 20 --model delta_net --feature-map dpfp \\
        --output-dir runs/delta

Stops, as in the paper, when the evaluation loss (20 sequences x all S queries) falls below
0.001 or has not improved for 1,000 steps; Adam with its default settings, batch 32.
"""

# The memories the paper compares (Sec. 6.1), by name; flags may change the feature map etc.
MODELS = {
    "linear_transformer": dict(feature_map="elu_plus_one", update_rule="sum"),
    "performer": dict(feature_map="favor_plus", update_rule="sum"),
    "dpfp": dict(feature_map="dpfp", update_rule="sum"),
    "delta_net": dict(feature_map="elu_plus_one", update_rule="delta"),
    # Schlag et al. (2021): the delta rule on tanh features without normalisation.
    "schlag_2021": dict(feature_map="tanh", update_rule="delta", normalization=None),
    "transformer": dict(memory="softmax"),
}
# The names of `fwp_keras.layers.feature_maps.FEATURE_MAPS` (arguments_test keeps them equal).
FEATURE_MAPS = ("dpfp", "elu_plus_one", "favor_plus", "identity", "tanh")


def add_arguments(parser):
    task = parser.add_argument_group("task (Sec. 6.1)")
    task.add_argument("--setting", type=int, choices=(1, 2), default=1,
                      help="1: L = S keys without replacement; 2: L = 2S, keys re-assigned")
    task.add_argument("--num-keys", type=int, default=20, help="S, keys and values")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="delta_net",
                       help=f"one of {sorted(MODELS)}, or a retrieval preset to start from")
    model.add_argument("--feature-map", choices=FEATURE_MAPS,
                       help="override the model's feature map")
    model.add_argument("--nu", type=int, default=1, help="DPFP's nu (default 1)")
    model.add_argument("--num-features", type=int, default=64,
                       help="FAVOR+'s m (default 64; d_dot = 2m)")
    model.add_argument("--update-rule", choices=("sum", "delta", "gated"))
    model.add_argument("--normalization", choices=("sum", "attention", "l2", "none"))
    model.add_argument("--key-dim", type=int, default=64, help="d_key")
    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=int, default=32)
    training.add_argument("--learning-rate", type=float, default=1e-3,
                          help="Adam's (its other settings are Keras' defaults)")
    training.add_argument("--max-steps", type=int, default=100_000)
    training.add_argument("--eval-every", type=int, default=100,
                          help="steps between evaluations (one epoch of the logs)")
    training.add_argument("--stop-below", type=float, default=0.001,
                          help="stop when the evaluation loss falls below this")
    training.add_argument("--patience-steps", type=int, default=1000,
                          help="stop when the evaluation loss has not improved for this long")


