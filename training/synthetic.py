"""`fwp-train synthetic`'s training; the command's flags and its `--help` text are in
`arguments/synthetic.py`."""

import keras

from fwp_keras.layers import feature_maps
from fwp_keras.datasets.retrieval import retrieval_dataset, retrieval_evaluation_data
from fwp_keras.training.arguments.synthetic import MODELS
from fwp_keras.training.training_run import TrainingRun
from fwp_keras.zoo import AssociativeRetrievalModel, squared_error


def model_options(args):
    if args.model not in MODELS:
        return None
    options = dict(MODELS[args.model])
    if args.feature_map:
        options["feature_map"] = args.feature_map
        if args.model == "schlag_2021":
            options["normalization"] = None
    if args.update_rule:
        options["update_rule"] = args.update_rule
    if args.normalization:
        options["normalization"] = None if args.normalization == "none" else args.normalization
    name = options.get("feature_map")
    if name == "dpfp":
        options["feature_map"] = feature_maps.DPFP(nu=args.nu)
    elif name == "favor_plus":
        options["feature_map"] = feature_maps.FAVORPlus(num_features=args.num_features,
                                                        seed=args.seed)
    return options


def build_model(args):
    options = model_options(args)
    if options is None:
        model = AssociativeRetrievalModel.from_preset(args.model)
        if model.num_keys != args.num_keys:
            raise ValueError(f"The preset {args.model!r} was made for --num-keys "
                             f"{model.num_keys}. Received: --num-keys {args.num_keys}")
        return model
    return AssociativeRetrievalModel(args.num_keys, key_dim=args.key_dim, **options)


def check_arguments(args, distribution):
    for name in ("num_keys", "batch_size", "max_steps", "eval_every", "key_dim", "nu",
                 "num_features", "patience_steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer >= 1. "
                             f"Received: {getattr(args, name)}")
    if MODELS.get(args.model, {}).get("memory") == "softmax":
        for name in ("feature_map", "update_rule", "normalization"):
            if getattr(args, name):
                raise ValueError(f"`--{name.replace('_', '-')}` sets a fast weight memory; "
                                 f"`--model {args.model}` is softmax attention. Received: "
                                 f"{getattr(args, name)!r}")
    distribution.check_batch_size(args.batch_size)


def run(args, distribution):
    check_arguments(args, distribution)
    train_run = TrainingRun(distribution.output_dir(args.output_dir),
                            steps_per_epoch=args.eval_every,
                            max_steps=args.max_steps, threshold=args.stop_below,
                            patience_steps=args.patience_steps, flags=args.flags)
    with distribution.scope():
        model = build_model(args)
        model.compile(keras.optimizers.Adam(args.learning_rate), loss=squared_error,
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    data = retrieval_dataset(args.num_keys, args.setting, batch_size=args.batch_size,
                             seed=args.seed, start_step=train_run.start_step)
    evaluation = retrieval_evaluation_data(args.num_keys, args.setting, seed=args.seed)
    probe = {name: value[:4] for name, value in evaluation[0].items()}
    diagnostics = train_run.diagnostics(model, probe, args.diagnostics_every)
    history = train_run.fit(model, data, evaluation, diagnostics, verbose=args.verbose)
    final = model.evaluate(*evaluation, verbose=0, return_dict=True)
    steps = len(history) * args.eval_every
    train_run.save_preset(
        model, command=getattr(args, "command", None), steps=steps,
        data=f"synthetic setting {args.setting}, S = {args.num_keys}, seed {args.seed}",
        metrics={"eval_loss": final["loss"], "eval_accuracy": final["accuracy"]})
    plot = train_run.plot_learning_curves(
        ("loss", "accuracy"), title=f"{args.model}, setting {args.setting}, S = {args.num_keys}")
    results = train_run.write_results({
        **distribution.description(), "task": "synthetic", "setting": args.setting,
        "num_keys": args.num_keys,
        "model": args.model, "memory": model.memory,
        # A feature map given as a layer is its config: its class names it well enough here.
        "feature_map": model.feature_map if not isinstance(model.feature_map, dict)
        else model.feature_map.get("class_name"),
        "update_rule": model.update_rule, "normalization": model.normalization,
        "d_dot": model.memory_layer.attention.state_key_dim if model.memory == "fast_weight"
        else None,
        "steps": steps,
        "eval_loss": final["loss"], "eval_accuracy": final["accuracy"],
        "best_eval_loss": train_run.stopper.best, "preset": train_run.preset_dir, "plot": plot,
    })
    return results
