"""Training the zoo's vocabularies from text files, locally.

    python -m fwp_keras.zoo.fast_weight.tokenizer_training sentencepiece FILE... --vocabulary-size 8000 --output-dir DIR
    python -m fwp_keras.zoo.fast_weight.tokenizer_training word wiki.train.tokens --output-dir DIR

Either writes a keras-hub tokenizer preset directory (`tokenizer.json` + `assets/tokenizer/`);
`load_tokenizer(DIR)` reads it back (keras-hub's `from_preset` wants a whole model preset, with
a `config.json`). A model preset saved with a preprocessor holds its tokenizer too.
"""

import argparse
import io
import json
import os

import keras
import sentencepiece
import tensorflow as tf
from keras_hub.src.utils import preset_utils

from fwp_keras import _validation as validation
from fwp_keras.zoo.fast_weight.fast_weight_tokenizer import FastWeightTokenizer
from fwp_keras.zoo.fast_weight.word_level_tokenizer import (
    SPECIAL_TOKENS,
    WordLevelTokenizer,
    count_words,
)


def _check_files(files):
    """`files` (text files, or a `tf.data.Dataset` of strings: one line each) checked."""
    if isinstance(files, tf.data.Dataset):
        return files
    files = [os.fspath(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
    if not files:
        raise ValueError("`files` is empty: pass at least one text file.")
    for path in files:
        if not os.path.isfile(path):
            raise ValueError(f"`files`: no such file: {path!r}")
    return files


def lines_dataset(documents):
    """The lines of `documents` (lists of lines, as `fwp_keras.datasets` gives them) as the
    `tf.data.Dataset` of strings the trainers take."""
    return tf.data.Dataset.from_tensor_slices([line for document in documents
                                               for line in document])


def _lines(files):
    if isinstance(files, tf.data.Dataset):
        yield from (line.decode("utf-8") for line in files.as_numpy_iterator())
        return
    for path in files:
        with open(path, encoding="utf-8") as file:
            yield from (line.rstrip("\n") for line in file)


def train_sentence_piece_tokenizer(files, vocabulary_size, model_type="unigram",
                                   lowercase=False):
    """A `FastWeightTokenizer` trained on `files` (text files, or a `tf.data.Dataset` of
    lines) with SentencePiece (`model_type` "unigram" or "bpe"), with keras-hub's special ids
    (`<pad>` 0, `<unk>` 1, `<s>` 2, `</s>` 3) and byte fallback: a character outside the
    vocabulary becomes its UTF-8 bytes, so no input character is lost (never `<unk>`). The
    256 byte pieces count in `vocabulary_size`, a maximum: a small text may give fewer."""
    files = _check_files(files)
    vocabulary_size = validation.positive_integer("vocabulary_size", vocabulary_size)
    model_type = validation.one_of("model_type", model_type, ("unigram", "bpe", "word", "char"))
    proto = io.BytesIO()
    try:
        # keras-hub's `compute_sentence_piece_proto` trains with these ids but has no
        # `byte_fallback` option, hence the trainer itself.
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=_lines(files), model_writer=proto, vocab_size=vocabulary_size,
            model_type=model_type, byte_fallback=True, hard_vocab_limit=False,
            normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
            pad_id=0, unk_id=1, bos_id=2, eos_id=3, minloglevel=2)
        proto = proto.getvalue()
    except RuntimeError as error:  # SentencePiece's trainer reports bad sizes as INTERNAL
        hint = (" With byte fallback the vocabulary holds 256 byte pieces, 4 special tokens "
                "and every character of the text: raise vocabulary_size."
                if "required_chars" in str(error) else "")
        raise ValueError(
            f"SentencePiece could not train a vocabulary of vocabulary_size={vocabulary_size} "
            f"on {'the given lines' if isinstance(files, tf.data.Dataset) else files}: "
            f"{error}{hint}") from error
    return FastWeightTokenizer(proto=proto)


def train_word_level_tokenizer(files, max_vocabulary_size=None, min_frequency=1):
    """A `WordLevelTokenizer` whose vocabulary is the words of `files` (text files, or a
    `tf.data.Dataset` of lines; words split at whitespace),
    most frequent first, after the special tokens; `<unk>` keeps its id 1 wherever the data
    has it. `max_vocabulary_size` and `min_frequency` cut the rare words (they become <unk>)."""
    files = _check_files(files)
    max_vocabulary_size = validation.positive_integer(
        "max_vocabulary_size", max_vocabulary_size, allow_none=True
    )
    if max_vocabulary_size is not None and max_vocabulary_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"`max_vocabulary_size` must exceed the {len(SPECIAL_TOKENS)} special tokens. "
            f"Received: {max_vocabulary_size}"
        )
    min_frequency = validation.positive_integer("min_frequency", min_frequency)
    counts = count_words(files)
    words = sorted((w for w, c in counts.items() if c >= min_frequency and w not in SPECIAL_TOKENS),
                   key=lambda w: (-counts[w], w))
    vocabulary = list(SPECIAL_TOKENS) + words
    if max_vocabulary_size is not None:
        vocabulary = vocabulary[:max_vocabulary_size]
    return WordLevelTokenizer(vocabulary=vocabulary)


def load_tokenizer(directory):
    """The tokenizer of a tokenizer preset directory written by `save_to_preset` (this
    module's command, or any keras-hub tokenizer's `save_to_preset`)."""
    config_file = os.path.join(directory, preset_utils.TOKENIZER_CONFIG_FILE)
    if not os.path.isfile(config_file):
        raise ValueError(
            f"`directory` {directory!r} holds no {preset_utils.TOKENIZER_CONFIG_FILE}: not a "
            "tokenizer preset (write one with `tokenizer.save_to_preset(directory)`)."
        )
    with open(config_file, encoding="utf-8") as file:
        tokenizer = keras.saving.deserialize_keras_object(json.load(file))
    tokenizer.load_preset_assets(directory)
    return tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("sentencepiece", "word"))
    parser.add_argument("files", nargs="+", help="text files, one sentence or line a line")
    parser.add_argument("--output-dir", required=True, help="the tokenizer preset directory")
    parser.add_argument("--vocabulary-size", type=int, default=None,
                        help="sentencepiece: the vocabulary size (required); word: the maximum")
    parser.add_argument("--model-type", default="unigram", help="sentencepiece model type")
    parser.add_argument("--lowercase", action="store_true")
    parser.add_argument("--min-frequency", type=int, default=1, help="word: rarer words -> <unk>")
    args = parser.parse_args(argv)
    if args.kind == "sentencepiece":
        if args.vocabulary_size is None:
            parser.error("sentencepiece needs --vocabulary-size")
        tokenizer = train_sentence_piece_tokenizer(args.files, args.vocabulary_size,
                                                   args.model_type, args.lowercase)
    else:
        tokenizer = train_word_level_tokenizer(args.files, args.vocabulary_size,
                                               args.min_frequency)
    os.makedirs(args.output_dir, exist_ok=True)
    tokenizer.save_to_preset(args.output_dir)
    print(f"{type(tokenizer).__name__} with {tokenizer.vocabulary_size()} tokens -> "
          f"{args.output_dir}")


if __name__ == "__main__":
    main()
