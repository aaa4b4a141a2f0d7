"""`fwp-evaluate`'s measures: the perplexity protocols, BLEU and chrF, the retrieval loss (the
command's flags and its `--help` text, which describes each protocol: `arguments/evaluate.py`)."""

import math

import keras
import keras_hub
import numpy as np
from keras import ops

from fwp_keras import datasets
from fwp_keras.datasets import retrieval
from fwp_keras.training import translate
from fwp_keras.training.arguments import check_positive
from fwp_keras.training.datasets import parallel_text, text
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM


def _token_log_probs(logits, targets):
    """log p(target) per position, in float32: `[B, T, V]`, `[B, T]` -> `[B, T]`."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return ops.squeeze(ops.take_along_axis(log_probs, targets[..., None], axis=-1), -1)


def _summary(nll, count):
    mean = nll / count
    return {"perplexity": math.exp(mean), "bits_per_token": mean / math.log(2),
            "nll": mean, "tokens": int(count)}


def sliding_window(causal_lm, tokens, sequence_length, batch_size=16, progress=True):
    """The sliding-window protocol (described in `arguments/evaluate.py`) over `tokens` (1-D ints)."""
    tokens = np.asarray(tokens, np.int32)
    length = sequence_length
    if len(tokens) < 2:
        raise ValueError("The text needs at least 2 tokens for one prediction.")
    length = min(length, len(tokens) - 1)
    windows = len(tokens) - length  # window i: inputs tokens[i : i + L]
    nll, count = 0.0, 0
    bar = keras.utils.Progbar(windows, unit_name="window") if progress else None
    for first in range(0, windows, batch_size):
        starts = np.arange(first, min(first + batch_size, windows))
        index = starts[:, None] + np.arange(length + 1)[None]
        segments = tokens[index]
        logits = causal_lm({"token_ids": segments[:, :-1],
                            "padding_mask": np.ones((len(starts), length), bool)})
        log_probs = ops.convert_to_numpy(_token_log_probs(logits, segments[:, 1:]))
        counted = log_probs[:, -1].astype(np.float64)
        nll -= counted.sum()
        count += len(starts)
        if first == 0:  # the first window counts all its positions
            nll -= log_probs[0, :-1].astype(np.float64).sum()
            count += length - 1
        if bar is not None:
            bar.add(len(starts))
    return _summary(nll, count)


def no_truncation(causal_lm, tokens, sequence_length, progress=True):
    """The no-truncation protocol: segments of `sequence_length` with the state carried."""
    if not isinstance(causal_lm, FastWeightCausalLM):
        raise ValueError(
            f"No truncation carries the fast weights through the text; {type(causal_lm).__name__}"
            " has no fast weights (use the sliding-window protocol).")
    tokens = np.asarray(tokens, np.int32)
    if len(tokens) < 2:
        raise ValueError("The text needs at least 2 tokens for one prediction.")
    nll, cache = 0.0, None
    segments = range(0, len(tokens) - 1, sequence_length)
    bar = keras.utils.Progbar(len(segments), unit_name="segment") if progress else None
    for begin in segments:
        end = min(begin + sequence_length, len(tokens) - 1)
        logits, _, cache = causal_lm.call_with_cache(tokens[None, begin:end], cache)
        log_probs = _token_log_probs(logits, tokens[None, begin + 1:end + 1])
        nll -= float(np.sum(ops.convert_to_numpy(log_probs).astype(np.float64)))
        if bar is not None:
            bar.add(1)
    return _summary(nll, len(tokens) - 1)


def dataset_split(args, file_flags):
    """`(dataset, split)` of `--dataset` / `--split` (None without `--dataset`), checked
    against the file flags `{flag: value}` given instead."""
    given = [flag for flag, value in file_flags.items() if value]
    if args.dataset is None:
        if args.split is not None:
            raise ValueError(f"`--split` {args.split!r} needs --dataset.")
        if len(given) < len(file_flags):
            raise ValueError(f"Give the text as --dataset NAME (--split SPLIT) or as "
                             f"{' and '.join(file_flags)}.")
        return None, None
    if given:
        raise ValueError(f"Give --dataset or {' and '.join(file_flags)}, not both.")
    split = args.split or datasets.validation_split(args.dataset)
    if split not in datasets.splits(args.dataset):
        raise ValueError(f"`--split` must be one of {list(datasets.splits(args.dataset))} "
                         f"for --dataset {args.dataset}. Received: {split!r}")
    return args.dataset, split


def run(args):
    return {"lm": run_lm, "mt": run_mt, "synthetic": run_synthetic}[args.task](args)


def run_mt(args):
    check_positive(args, ("num_beams", "batch_size", "max_sentences"))
    dataset, split = dataset_split(args, {"--source": args.source, "--target": args.target})
    if dataset:
        sources, references = datasets.translation_pairs(dataset, split,
                                                         origin=args.dataset_origin)
        sources, references = sources[:args.max_sentences], references[:args.max_sentences]
    else:
        sources, references = parallel_text.read_parallel_text(args.source, args.target,
                                                               args.max_sentences)
    seq2seq_lm = translate.load_seq2seq_lm(args.preset)
    hypotheses = translate.translate(seq2seq_lm, sources, num_beams=args.num_beams,
                                     batch_size=args.batch_size, progress=bool(args.verbose))
    if args.hypotheses:
        translate.write_lines(args.hypotheses, hypotheses)
    data = ({"dataset": dataset, "split": split} if dataset else
            {"source": args.source, "target": args.target})
    return {"preset": args.preset, **data, "num_beams": args.num_beams, "hypotheses": args.hypotheses,
            **translate.corpus_scores(hypotheses, references)}


def recorded_setting(preset):
    """The synthetic setting a retrieval preset's training record names (None if none)."""
    import re

    from fwp_keras.zoo.presets import training_record

    found = re.match(r"synthetic setting (\d)", str((training_record(preset) or {}).get("data")))
    return int(found.group(1)) if found else None


def run_synthetic(args):
    from fwp_keras.zoo import AssociativeRetrievalModel, squared_error

    check_positive(args, ("num_sequences",))
    model = AssociativeRetrievalModel.from_preset(args.preset)
    trained = recorded_setting(args.preset)
    if trained is not None and trained != args.setting:
        raise ValueError(f"`--setting` {args.setting}: the preset {args.preset!r} was trained "
                         f"on setting {trained}; evaluate it with --setting {trained}.")
    inputs, targets = retrieval.retrieval_evaluation_data(
        model.num_keys, args.setting, seed=args.seed, num_sequences=args.num_sequences)
    inputs = {name: np.asarray(value) for name, value in inputs.items()}
    targets = np.asarray(targets)
    predictions = model.predict(inputs, verbose=0)
    correct = np.argmax(predictions, -1) == np.argmax(targets, -1)
    return {"preset": args.preset, "setting": args.setting, "num_keys": model.num_keys,
            "seed": args.seed, "sequences": args.num_sequences,
            "eval_loss": float(np.mean(ops.convert_to_numpy(squared_error(targets,
                                                                          predictions)))),
            "eval_accuracy": float(np.mean(correct))}


def load_causal_lm(preset, flag="--preset"):
    """A language model from a preset; a translation preset, or no preset, is a clear error
    (keras-hub's `CausalLM.from_preset` also returns its subclass `Seq2SeqLM`)."""
    import fwp_keras.zoo  # noqa: F401  registers the zoo's classes and presets

    try:
        causal_lm = keras_hub.models.CausalLM.from_preset(preset)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"`{flag}` {preset!r} is not a CausalLM preset: {error} (`python -m "
                         "fwp_keras.training.reproduce.shipping --list` lists the shipped "
                         "presets)") from None
    if isinstance(causal_lm, keras_hub.models.Seq2SeqLM):
        raise ValueError(f"`{flag}` {preset!r} is a translation model ({type(causal_lm).__name__}"
                         "), not a language model: `fwp-train mt` and `fwp-evaluate mt` take it.")
    if causal_lm.preprocessor is None:
        raise ValueError(f"`{flag}` {preset!r} has no preprocessor (tokenizer) to read text "
                         "with.")
    return causal_lm


def run_lm(args):
    check_positive(args, ("sequence_length", "batch_size", "max_tokens"))
    dataset, split = dataset_split(args, {"--text": args.text})
    documents = (datasets.text_documents(dataset, split, origin=args.dataset_origin) if dataset
                 else text.read_documents(args.text, args.format))
    causal_lm = load_causal_lm(args.preset)
    tokenizer = causal_lm.preprocessor.tokenizer
    tokens, _ = text.tokenize_documents(documents, tokenizer)
    if args.max_tokens:
        tokens = tokens[:args.max_tokens]
    length = args.sequence_length or causal_lm.preprocessor.sequence_length
    data = {"dataset": dataset, "split": split} if dataset else {"text": args.text}
    results = {"preset": args.preset, **data, "sequence_length": length,
               "tokens": int(len(tokens))}
    progress = bool(args.verbose)
    if "sliding-window" in args.protocols:
        results["sliding_window"] = sliding_window(causal_lm, tokens, length, args.batch_size,
                                                   progress)
    if "no-truncation" in args.protocols:
        results["no_truncation"] = no_truncation(causal_lm, tokens, length, progress)
    return results
