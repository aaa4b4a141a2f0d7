"""`fwp-evaluate lm`: perplexity with both of the paper's protocols (Sec. 6.3); `fwp-evaluate mt`:
BLEU and chrF of a translation model (Sec. 6.2); `fwp-evaluate synthetic`: the retrieval loss of
a Sec. 6.1 model on the paper's evaluation set.

    fwp-evaluate lm --preset delta_net_shakespeare --dataset shakespeare --split test
    fwp-evaluate lm --preset runs/lm/preset --text my_text.txt
    fwp-evaluate mt --preset runs/mt/preset --dataset multi30k --split test2016 --num-beams 4
    fwp-evaluate mt --preset runs/mt/preset --source test.en --target test.de
    fwp-evaluate synthetic --preset runs/delta/preset --setting 2

`--dataset NAME --split SPLIT` reads a provided dataset (`fwp_keras.datasets`: shipped, or
downloaded once); `--text`, `--source` / `--target` read files.

- Sliding window (Table 2): windows of `L` tokens moved one token at a time, every window a
  fresh model (no state from before it); in the first window every position counts, in each
  later one only the last (its prediction then has the full `L - 1` tokens of context).
  Windows are independent, so they run `--batch-size` at a time: the same numbers as one by
  one, the paper's batch of 1.
- No truncation (Table 4): the whole text fed segment by segment of `L` tokens with the fast
  weights carried from each segment to the next (batch 1): every prediction sees all the text
  before it. For a fast weight model this is one pass over the whole text; the softmax
  Transformer has no finite state to carry, so it has no such number.

Both report perplexity `exp(mean NLL)` and bits per token `mean NLL / ln 2`.

Translation: the sources translated (`translate.translate`, greedy or beam search) and scored
against the references with sacrebleu on detokenised text (`translate.corpus_scores`).
"""

import argparse
import math

import keras
import keras_hub
import numpy as np
from keras import ops

from fwp_keras import datasets
from fwp_keras.datasets import retrieval
from fwp_keras.training import translate
from fwp_keras.training.datasets import parallel_text, text
from fwp_keras.training.help_formatter import HelpFormatter
from fwp_keras.training.model_arguments import add_origin_argument
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM

PROTOCOLS = ("sliding-window", "no-truncation")


def _token_log_probs(logits, targets):
    """log p(target) per position, in float32: `[B, T, V]`, `[B, T]` -> `[B, T]`."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return ops.squeeze(ops.take_along_axis(log_probs, targets[..., None], axis=-1), -1)


def _summary(nll, count):
    mean = nll / count
    return {"perplexity": math.exp(mean), "bits_per_token": mean / math.log(2),
            "nll": mean, "tokens": int(count)}


def sliding_window(causal_lm, tokens, sequence_length, batch_size=16, progress=True):
    """The sliding-window protocol (see the module) over `tokens` (1-D ints)."""
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


def parser():
    parser = argparse.ArgumentParser(prog="fwp-evaluate", description=__doc__,
                                     formatter_class=HelpFormatter)
    tasks = parser.add_subparsers(dest="task", required=True)
    lm = tasks.add_parser("lm", help="perplexity of a language-model preset on a text",
                          formatter_class=HelpFormatter)
    lm.add_argument("--preset", required=True, help="a preset name or directory")
    add_dataset_arguments(lm, datasets.TEXT_DATASETS, "--text")
    lm.add_argument("--text", nargs="+", help="text files (instead of --dataset)")
    lm.add_argument("--format", choices=text.FORMATS, default="auto",
                    help="of --text files: 'wikitext' for wiki.*.tokens (auto: by the name)")
    lm.add_argument("--sequence-length", type=int,
                    help="L (default: the preset preprocessor's sequence_length)")
    lm.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    lm.add_argument("--batch-size", type=int, default=16, help="windows a forward pass")
    lm.add_argument("--max-tokens", type=int, help="evaluate only the first this many tokens")
    lm.add_argument("--verbose", type=int, choices=(0, 1), default=1)
    mt = tasks.add_parser("mt", help="BLEU and chrF of a translation preset on parallel text",
                          formatter_class=HelpFormatter)
    mt.add_argument("--preset", required=True, help="a Seq2SeqLM preset name or directory")
    add_dataset_arguments(mt, datasets.TRANSLATION_DATASETS, "--source / --target")
    mt.add_argument("--source", help="sources, one a line (instead of --dataset)")
    mt.add_argument("--target", help="references, aligned by line")
    mt.add_argument("--num-beams", type=int, default=4, help="1: greedy search")
    mt.add_argument("--batch-size", type=int, default=32, help="sentences a generate call")
    mt.add_argument("--max-sentences", type=int, help="only the first this many pairs")
    mt.add_argument("--hypotheses", help="write the translations to this file")
    mt.add_argument("--verbose", type=int, choices=(0, 1), default=1)
    synthetic = tasks.add_parser(
        "synthetic", help="the Sec. 6.1 loss of a retrieval preset (20 sequences x S queries)",
        formatter_class=HelpFormatter)
    synthetic.add_argument("--preset", required=True, help="a retrieval preset name or directory")
    synthetic.add_argument("--setting", type=int, choices=retrieval.SETTINGS, required=True)
    synthetic.add_argument("--seed", type=int, default=0, help="of the evaluation sequences")
    synthetic.add_argument("--num-sequences", type=int, default=retrieval.EVALUATION_SEQUENCES)
    return parser


def add_dataset_arguments(parser, names, files):
    parser.add_argument("--dataset", choices=names,
                        help=f"a provided dataset (fwp_keras.datasets), instead of {files}")
    parser.add_argument("--split", help="of --dataset (default: its validation split)")
    add_origin_argument(parser)


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


def check_positive(args, names):
    """Each flag of `names` that is given must be an integer >= 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer >= 1. "
                             f"Received: {value}")


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
