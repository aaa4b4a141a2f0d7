"""`fwp-train lm`'s training; the command's flags and its `--help` text are in
`arguments/language_modeling.py`."""

import math
import os

import keras
import numpy as np
from keras_hub.src.utils import preset_utils

from fwp_keras import datasets, zoo
from fwp_keras.training import evaluate
from fwp_keras.training.carried_state import CarriedStateLM
from fwp_keras.training.datasets import text
from fwp_keras.training.arguments.model import build_backbone
from fwp_keras.training.training_run import TOKENIZER_FOLDER, TrainingRun
from fwp_keras.zoo.fast_weight.tokenizer_training import lines_dataset

MODELS = {
    "linear_transformer": zoo.LinearTransformerCausalLM,
    "performer": zoo.PerformerCausalLM,
    "dpfp": zoo.DPFPCausalLM,
    "delta_net": zoo.DeltaNetCausalLM,
    "transformer": zoo.TransformerCausalLM,
}
TOKENIZERS = ("word", "sentencepiece")


def check_arguments(args, distribution):
    for name in ("vocabulary_size", "num_layers", "hidden_dim", "num_heads",
                 "intermediate_dim", "sequence_length", "batch_size", "max_steps",
                 "eval_every", "eval_batches", "nu", "num_features"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer >= 1. "
                             f"Received: {getattr(args, name)}")
    if (args.dataset is None) == (args.train is None):
        raise ValueError("Give the training text either as `--dataset` (one of "
                         f"{list(datasets.TEXT_DATASETS)}) or as `--train` files, not "
                         f"{'both' if args.dataset else 'neither'}.")
    if args.dataset and args.validation:
        raise ValueError(f"`--validation`: --dataset {args.dataset} validates on its own "
                         f"{datasets.validation_split(args.dataset)!r} split; give "
                         "--validation with --train files only.")
    if not 0 < args.validation_fraction < 1 and not args.validation:
        raise ValueError("`--validation-fraction` must be in (0, 1). "
                         f"Received: {args.validation_fraction}")
    if args.model not in MODELS and not os.path.exists(args.model) and \
            args.model not in preset_utils.BUILTIN_PRESETS:
        raise ValueError(f"`--model` must be one of {sorted(MODELS)}, a preset name or a "
                         f"preset directory. Received: {args.model!r}")
    if args.tokenizer not in TOKENIZERS and not os.path.isdir(args.tokenizer):
        raise ValueError(f"`--tokenizer` must be one of {TOKENIZERS} or a tokenizer preset "
                         f"directory. Received: {args.tokenizer!r}")
    if args.carry_state and distribution.num_replicas > 1:
        raise ValueError("`--carry-state` keeps one state per stream on one device; it does "
                         "not run with --distribution yet.")
    distribution.check_batch_size(args.batch_size)


def load_or_build(args, train_run, train_documents):
    """`(causal_lm, tokenizer)`: a preset's, or a new model of `--model`'s family on the
    run's tokenizer (trained on `train_documents` once and kept in the output directory when
    training starts: a resumed run reads it back instead of training it again)."""
    if args.model not in MODELS:
        causal_lm = evaluate.load_causal_lm(args.model, "--model")
        return causal_lm, causal_lm.preprocessor.tokenizer
    saved = train_run.path(TOKENIZER_FOLDER)
    if train_run.started:
        tokenizer = zoo.load_tokenizer(saved)
    elif os.path.isdir(args.tokenizer):
        tokenizer = zoo.load_tokenizer(args.tokenizer)
    elif args.tokenizer == "word":
        tokenizer = zoo.train_word_level_tokenizer(lines_dataset(train_documents),
                                                   max_vocabulary_size=args.vocabulary_size)
    else:
        tokenizer = zoo.train_sentence_piece_tokenizer(lines_dataset(train_documents),
                                                       args.vocabulary_size)
    if not train_run.started:
        train_run.write_at_start(TOKENIZER_FOLDER, tokenizer.save_to_preset)
    cls = MODELS[args.model]
    backbone = build_backbone(cls, args, tokenizer.vocabulary_size())
    preprocessor = cls.preprocessor_cls(tokenizer, sequence_length=args.sequence_length)
    return cls(backbone, preprocessor=preprocessor), tokenizer


def read_documents(args):
    """`(train, validation)` documents (validation None for `--train` files without
    `--validation`), read before anything else so that bad data fails first."""
    if args.dataset:
        return tuple(datasets.text_documents(args.dataset, split, origin=args.dataset_origin)
                     for split in ("train", datasets.validation_split(args.dataset)))

    def read(flag, paths):
        try:
            return text.read_documents(paths, args.format)
        except ValueError as error:
            raise ValueError(f"`{flag}`: {error}") from None

    return (read("--train", args.train),
            read("--validation", args.validation) if args.validation else None)


def data_record(args):
    """What the run trained and validated on, for the preset's metadata."""
    if args.dataset:
        return {"dataset": args.dataset, "train": "train",
                "validation": datasets.validation_split(args.dataset)}
    return {"train": args.train, "validation": args.validation
            or f"the last {args.validation_fraction:g} of --train"}


def token_streams(args, documents, tokenizer):
    """`(train, validation)`, each `(token_ids, document_starts)`."""
    train = text.tokenize_documents(documents[0], tokenizer)
    if documents[1] is not None:
        return train, text.tokenize_documents(documents[1], tokenizer)
    tokens, starts = train
    cut = int(len(tokens) * (1 - args.validation_fraction))
    return ((tokens[:cut], starts[starts < cut]),
            (tokens[cut:], np.concatenate([[0], starts[starts > cut] - cut])))


def batches(args, train, validation, start_step):
    length, batch = args.sequence_length, args.batch_size
    minimum = batch * (length + 1) + 1
    if len(validation[0]) < minimum:
        raise ValueError(
            f"The validation text has {len(validation[0])} tokens; one validation batch of "
            f"--batch-size {batch} x --sequence-length {length} needs at least {minimum}. "
            "Pass a longer --validation (or a larger --validation-fraction).")
    if args.carry_state:
        data = text.contiguous_streams(train[0], length, batch, document_starts=train[1],
                                       start_step=start_step)
        per_epoch = ((len(validation[0]) - 1) // batch - 1) // length
        evaluation = text.contiguous_streams(validation[0], length, batch,
                                             document_starts=validation[1],
                                             num_steps=min(args.eval_batches, per_epoch))
    else:
        data = text.shuffled_segments(train[0], length, batch, seed=args.seed,
                                      start_step=start_step)
        per_epoch = (len(validation[0]) - 1) // length // batch
        evaluation = text.shuffled_segments(validation[0], length, batch, shuffle=False,
                                            num_steps=min(args.eval_batches, per_epoch))
    return data, evaluation


def learning_rate_schedule(args):
    """Linear warm-up over `--warmup-steps` to `--learning-rate`, then cosine decay to a
    tenth of it at `--max-steps`."""
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(args.max_steps - args.warmup_steps, 1), warmup_target=args.learning_rate,
        warmup_steps=args.warmup_steps, alpha=0.1)


def compile_for_training(model, learning_rate, clip_norm):
    """Adam with gradient clipping, and the next-token loss and accuracy of `fwp-train lm`
    (over the tokens the sample weights keep)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def run(args, distribution):
    check_arguments(args, distribution)
    documents = read_documents(args)
    train_run = TrainingRun(distribution.output_dir(args.output_dir),
                            steps_per_epoch=args.eval_every,
                            max_steps=args.max_steps, patience_steps=args.patience_steps,
                            flags=args.flags)
    with distribution.scope():
        causal_lm, tokenizer = load_or_build(args, train_run, documents[0])
        preprocessor, causal_lm.preprocessor = causal_lm.preprocessor, None  # data is ids
        model = CarriedStateLM(causal_lm, args.batch_size) if args.carry_state else causal_lm
        compile_for_training(model, learning_rate_schedule(args), args.clip_norm)
    train, validation = token_streams(args, documents, tokenizer)
    data, evaluation = batches(args, train, validation, train_run.start_step)
    first = next(iter(evaluation))[0]
    if not model.built:  # the backup restores into built models only
        model(first)
    probe = {name: first[name][:4] for name in ("token_ids", "padding_mask")}
    diagnostics = train_run.diagnostics(model, probe, args.diagnostics_every)
    history = train_run.fit(model, data, evaluation, diagnostics, verbose=args.verbose)
    final = model.evaluate(evaluation, verbose=0, return_dict=True)
    causal_lm.preprocessor = preprocessor
    steps = len(history) * args.eval_every
    train_run.save_preset(
        causal_lm, command=getattr(args, "command", None), steps=steps,
        data=data_record(args),
        metrics={"validation_loss": final["loss"],
                 "validation_perplexity": math.exp(final["loss"])})
    plot = train_run.plot_learning_curves(
        ("loss", "accuracy"), title=f"{args.model}, L = {args.sequence_length}"
        + (", carried state" if args.carry_state else ""))
    results = train_run.write_results({
        **distribution.description(), "task": "lm", "model": args.model,
        "carry_state": args.carry_state,
        "sequence_length": args.sequence_length, "batch_size": args.batch_size,
        "train_tokens": int(len(train[0])), "validation_tokens": int(len(validation[0])),
        "vocabulary_size": tokenizer.vocabulary_size(), "steps": steps,
        "train_tokens_per_second": args.batch_size * args.sequence_length
        / train_run.step_seconds if train_run.step_seconds else None,
        "validation_loss": final["loss"], "validation_perplexity": math.exp(final["loss"]),
        "validation_bits_per_token": final["loss"] / math.log(2),
        "preset": train_run.preset_dir, "plot": plot,
    })
    return results
