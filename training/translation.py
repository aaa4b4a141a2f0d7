"""`fwp-train mt`'s training; the command's flags and its `--help` text are in
`arguments/translation.py`."""

import math
import os

import keras
import keras_hub
from keras_hub.src.utils import preset_utils

from fwp_keras import datasets, zoo
from fwp_keras.training import translate as translation
from fwp_keras.training.datasets import parallel_text
from fwp_keras.training.label_smoothing import SparseLabelSmoothingCrossentropy
from fwp_keras.training.schedules import InverseSquareRootDecay
from fwp_keras.training.arguments.model import build_backbone
from fwp_keras.training.training_run import TOKENIZER_FOLDER, TrainingRun
from fwp_keras.zoo.fast_weight.tokenizer_training import lines_dataset

MODELS = {
    "linear_transformer": zoo.LinearTransformerSeq2SeqLM,
    "performer": zoo.PerformerSeq2SeqLM,
    "dpfp": zoo.DPFPSeq2SeqLM,
    "delta_net": zoo.DeltaNetSeq2SeqLM,
    "transformer": zoo.TransformerSeq2SeqLM,
}


FILE_FLAGS = ("source", "target", "validation_source", "validation_target")


def check_arguments(args):
    given = [f"--{name.replace('_', '-')}" for name in FILE_FLAGS if getattr(args, name)]
    if args.dataset and given:
        raise ValueError(f"Give the data either as `--dataset` or as files, not both: "
                         f"--dataset {args.dataset} with {', '.join(given)}.")
    if not args.dataset and len(given) < len(FILE_FLAGS):
        missing = [f"--{name.replace('_', '-')}" for name in FILE_FLAGS
                   if not getattr(args, name)]
        raise ValueError("Give the data as `--dataset` (one of "
                         f"{list(datasets.TRANSLATION_DATASETS)}) or as the four files "
                         f"--source, --target, --validation-source, --validation-target; "
                         f"missing: {', '.join(missing)}.")
    for name in ("vocabulary_size", "num_layers", "hidden_dim", "num_heads", "intermediate_dim",
                 "max_tokens", "max_steps", "eval_every", "nu", "num_features", "num_beams",
                 "warmup_steps", "encoder_sequence_length", "decoder_sequence_length",
                 "translate_batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer >= 1. "
                             f"Received: {getattr(args, name)}")
    if args.max_pairs is not None and args.max_pairs < 1:
        raise ValueError(f"`--max-pairs` must be an integer >= 1. Received: {args.max_pairs}")
    if args.model not in MODELS and not os.path.exists(args.model) and \
            args.model not in preset_utils.BUILTIN_PRESETS:
        raise ValueError(f"`--model` must be one of {sorted(MODELS)}, a preset name or a "
                         f"preset directory. Received: {args.model!r}")
    if args.tokenizer != "sentencepiece" and not os.path.isdir(args.tokenizer):
        raise ValueError("`--tokenizer` must be 'sentencepiece' or a tokenizer preset "
                         f"directory. Received: {args.tokenizer!r}")


def compile_for_translation(model, args):
    """The recipe: Adam (0.9, 0.98, 1e-9) with clipping on the inverse-square-root schedule,
    the label-smoothed loss per target token (padding weighs nothing and counts nothing),
    and the per-token NLL (`nll`, whose exp is the perplexity) and accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(
            InverseSquareRootDecay(args.learning_rate, args.warmup_steps), beta_1=0.9,
            beta_2=0.98, epsilon=1e-9, clipnorm=args.clip_norm),
        loss=SparseLabelSmoothingCrossentropy(args.label_smoothing,
                                              reduction="mean_with_sample_weight"),
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="nll")])
    return model


def read_data(args):
    """`((sources, targets), (validation sources, validation targets))`."""
    if args.dataset:
        train = datasets.translation_pairs(args.dataset, "train", origin=args.dataset_origin)
        if args.max_pairs is not None:
            train = tuple(side[:args.max_pairs] for side in train)
        return train, datasets.translation_pairs(
            args.dataset, datasets.validation_split(args.dataset), origin=args.dataset_origin)

    def read(source, target, flags, max_pairs=None):
        try:
            return parallel_text.read_parallel_text(source, target, max_pairs)
        except ValueError as error:
            raise ValueError(f"{flags}: {error}") from None

    return (read(args.source, args.target, "`--source` / `--target`", args.max_pairs),
            read(args.validation_source, args.validation_target,
                 "`--validation-source` / `--validation-target`"))


def load_or_build(args, train_run, sources, targets):
    """`seq2seq_lm`: a preset's, or a new model of `--model`'s family on the run's joint
    vocabulary (trained on `sources` and `targets` once and kept in the output directory
    when training starts, for a resumed run)."""
    if args.model not in MODELS:
        return keras_hub.models.Seq2SeqLM.from_preset(args.model)
    saved = train_run.path(TOKENIZER_FOLDER)
    cls = MODELS[args.model]
    tokenizer_cls = cls.preprocessor_cls.tokenizer_cls
    if train_run.started or os.path.isdir(args.tokenizer):
        tokenizer = zoo.load_tokenizer(saved if train_run.started else args.tokenizer)
    else:
        proto = zoo.train_sentence_piece_tokenizer(lines_dataset([sources, targets]),
                                                   args.vocabulary_size).proto
        tokenizer = tokenizer_cls(proto=proto)
    if not train_run.started:
        train_run.write_at_start(TOKENIZER_FOLDER, tokenizer.save_to_preset)
    backbone = build_backbone(cls, args, tokenizer.vocabulary_size())
    preprocessor = cls.preprocessor_cls(
        tokenizer, encoder_sequence_length=args.encoder_sequence_length,
        decoder_sequence_length=args.decoder_sequence_length)
    return cls(backbone, preprocessor=preprocessor)


def run(args, distribution):
    check_arguments(args)
    (sources, targets), (validation_sources, validation_targets) = read_data(args)
    train_run = TrainingRun(distribution.output_dir(args.output_dir),
                            steps_per_epoch=args.eval_every, max_steps=args.max_steps,
                            patience_steps=args.patience_steps, flags=args.flags)
    with distribution.scope():
        seq2seq_lm = load_or_build(args, train_run, sources, targets)
        preprocessor, seq2seq_lm.preprocessor = seq2seq_lm.preprocessor, None  # data is ids
        compile_for_translation(seq2seq_lm, args)
    lengths = dict(encoder_sequence_length=preprocessor.encoder_sequence_length,
                   decoder_sequence_length=preprocessor.decoder_sequence_length)
    tokenizer = preprocessor.tokenizer
    train_pairs = parallel_text.encode_pairs(tokenizer, sources, targets, **lengths)
    validation_pairs = parallel_text.encode_pairs(tokenizer, validation_sources,
                                                  validation_targets, **lengths)
    batching = dict(max_tokens=args.max_tokens, multiple_of=distribution.num_replicas)
    data = parallel_text.token_batches(train_pairs, seed=args.seed,
                                       start_step=train_run.start_step, **batching)
    evaluation = parallel_text.token_batches(
        validation_pairs, shuffle=False,
        num_steps=parallel_text.steps_per_pass(validation_pairs, **batching), **batching)
    first = next(iter(evaluation))[0]
    if not seq2seq_lm.built:  # the backup restores into built models only
        seq2seq_lm(first)
    probe = {name: first[name][:4] for name in first}
    diagnostics = train_run.diagnostics(seq2seq_lm, probe, args.diagnostics_every)
    history = train_run.fit(seq2seq_lm, data, evaluation, diagnostics, verbose=args.verbose)
    if os.path.exists(train_run.best_weights):  # model selection on the validation loss
        seq2seq_lm.load_weights(train_run.best_weights)
    final = seq2seq_lm.evaluate(evaluation, verbose=0, return_dict=True)
    seq2seq_lm.preprocessor = preprocessor
    count = args.bleu_sentences or len(validation_sources)
    hypotheses = translation.translate(
        seq2seq_lm, validation_sources[:count], num_beams=args.num_beams,
        batch_size=args.translate_batch_size, progress=bool(args.verbose))
    scores = translation.corpus_scores(hypotheses, validation_targets[:count])
    hypotheses_file = train_run.path("validation_hypotheses.txt")
    translation.write_lines(hypotheses_file, hypotheses)
    steps = len(history) * args.eval_every
    metrics = {"validation_loss": final["loss"], "validation_nll": final["nll"],
               "validation_perplexity": math.exp(final["nll"]),
               "validation_bleu": scores["bleu"], "validation_chrf": scores["chrf"],
               "num_beams": args.num_beams}
    train_run.save_preset(
        seq2seq_lm, command=getattr(args, "command", None), steps=steps,
        data=({"dataset": args.dataset, "train": "train",
               "validation": datasets.validation_split(args.dataset)} if args.dataset else
              {"train": [args.source, args.target],
               "validation": [args.validation_source, args.validation_target]}),
        metrics=metrics)
    plot = train_run.plot_learning_curves(("loss", "nll", "accuracy"),
                                          title=f"{args.model}, translation")
    backbone = seq2seq_lm.backbone
    results = train_run.write_results({
        **distribution.description(), "task": "mt", "model": args.model,
        "parameters": seq2seq_lm.count_params(), "num_layers": backbone.num_layers,
        "hidden_dim": backbone.hidden_dim, "train_pairs": len(sources),
        "vocabulary_size": tokenizer.vocabulary_size(), "steps": steps,
        "settings": {name: getattr(args, name) for name in (
            "max_tokens", "learning_rate", "warmup_steps", "label_smoothing", "clip_norm",
            "dropout", "num_beams")},
        "validation_accuracy": final.get("accuracy"), **metrics,
        "bleu_signature": scores["bleu_signature"], "bleu_sentences": count,
        "hypotheses": hypotheses_file, "preset": train_run.preset_dir, "plot": plot,
    })
    return results
