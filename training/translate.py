"""Translating sentences with a zoo `Seq2SeqLM`, and scoring translations with sacrebleu.

`fwp-translate` (its flags: `arguments/translate.py`) calls `run`.

BLEU and chrF are sacrebleu's (`corpus_bleu` with its default 13a tokenisation, `corpus_chrf`)
on detokenised text: the tokenizer's detokenised output against the raw reference lines, the
way papers report them; each result carries sacrebleu's signature.
"""

import sys

import keras
import keras_hub
import numpy as np
import sacrebleu

from fwp_keras.training.arguments import check_positive


def set_search(seq2seq_lm, num_beams):
    """Greedy search (`num_beams=1`) or keras-hub's beam search, without recompiling: `compile`
    would also replace the optimizer and loss of a model being trained."""
    num_beams = int(num_beams)
    if num_beams < 1:
        raise ValueError(f"`num_beams` must be an integer >= 1. Received: {num_beams}")
    seq2seq_lm.sampler = (keras_hub.samplers.GreedySampler() if num_beams == 1
                          else keras_hub.samplers.BeamSampler(num_beams=num_beams))
    seq2seq_lm.generate_function = None  # traced again with the new sampler


def translate(seq2seq_lm, sentences, *, num_beams=4, batch_size=32, max_length=None,
              progress=False):
    """The translations of `sentences` (a list of strings), in order. Sentences run
    `batch_size` at a time, sorted by length so that a batch decodes about as many steps as
    its longest needs; batched translation is the same as one by one."""
    if seq2seq_lm.preprocessor is None:
        raise ValueError("Translating strings needs the model's preprocessor (its tokenizer).")
    sentences = list(sentences)
    if not sentences:
        return []
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: {batch_size}")
    set_search(seq2seq_lm, num_beams)
    lengths = [len(s) for s in sentences]
    order = np.argsort(lengths, kind="stable")[::-1]
    translations = [None] * len(sentences)
    bar = keras.utils.Progbar(len(sentences), unit_name="sentence") if progress else None
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        out = seq2seq_lm.generate([sentences[i] for i in rows], max_length=max_length)
        for row, text in zip(rows, out):
            translations[row] = text
        if bar is not None:
            bar.add(len(rows))
    return translations


def corpus_scores(hypotheses, references):
    """`{"bleu", "chrf", "bleu_signature", "chrf_signature", "sentences"}`: sacrebleu's corpus
    BLEU and chrF of detokenised `hypotheses` against one reference each."""
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references: "
                         "they must be aligned, one each.")
    if not references:
        raise ValueError("No sentences to score.")
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "sentences": len(references),
    }


def load_seq2seq_lm(preset):
    """A zoo translation model from a preset; anything else is a clear error."""
    import fwp_keras.zoo  # noqa: F401  registers the zoo's classes and presets

    try:
        model = keras_hub.models.Seq2SeqLM.from_preset(preset)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"`--preset` {preset!r} is not a Seq2SeqLM preset: {error}") from None
    if model.preprocessor is None:
        raise ValueError(f"`--preset` {preset!r} has no preprocessor (tokenizer) to translate "
                         "text with.")
    return model


def run(args):
    check_positive(args, ("num_beams", "batch_size", "max_length"))
    model = load_seq2seq_lm(args.preset)  # a bad preset fails before any input is read
    if args.input:
        with open(args.input, encoding="utf-8") as file:
            sentences = file.read().splitlines()
    else:
        sentences = sys.stdin.read().splitlines()
    # A blank line stays a blank line of the output (aligned line by line with the input).
    text = [i for i, s in enumerate(sentences) if s.strip()]
    translated = translate(model, [sentences[i] for i in text], num_beams=args.num_beams,
                           batch_size=args.batch_size, max_length=args.max_length)
    translations = [""] * len(sentences)
    for i, translation in zip(text, translated):
        translations[i] = translation
    if args.output:
        write_lines(args.output, translations)
    else:
        sys.stdout.write("".join(t + "\n" for t in translations))
    return translations


def write_lines(path, lines):
    """One sentence a line, the format every command here reads."""
    with open(path, "w", encoding="utf-8") as file:
        file.write("".join(line + "\n" for line in lines))
