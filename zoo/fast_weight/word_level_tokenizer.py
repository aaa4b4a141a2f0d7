"""WordLevelTokenizer: whitespace words, for WikiText-format corpora (`wiki.*.tokens`).

The WikiText files are tokenised already (`@-@`, `<unk>`, punctuation as words), so a word is
whatever lies between spaces; keras-hub's `WordPieceTokenizer` would split punctuation again
(`@-@` into three tokens), hence this small tokenizer on keras-hub's `Tokenizer` base.
"""

import collections
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.presets import NamedPresets
from keras_hub.src.utils.tensor_utils import (
    canonicalize_python_string_inputs,
    canonicalize_python_token_inputs,
    convert_to_ragged_batch,
    preprocessing_function,
)

VOCABULARY_FILE = "vocabulary.txt"
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


@keras.saving.register_keras_serializable(package="fwp_keras")
class WordLevelTokenizer(NamedPresets, keras_hub.tokenizers.Tokenizer):
    """Maps whitespace-separated words to ids; words outside the vocabulary become `<unk>`
    (WikiText's own unknown-word token, kept as one word of the vocabulary).

    Args:
        vocabulary: a list of words or the path of a file with one word a line; it must start
            with `<pad>`, `<unk>`, `<s>`, `</s>` (ids 0-3), as `train_word_level_tokenizer`
            writes it.
    """

    backbone_cls = FastWeightBackbone

    def __init__(self, vocabulary=None, **kwargs):
        self._add_special_token("<s>", "start_token")
        self._add_special_token("</s>", "end_token")
        self._add_special_token("<pad>", "pad_token")
        super().__init__(**kwargs)
        self.file_assets = [VOCABULARY_FILE]
        self.set_vocabulary(vocabulary)

    def set_vocabulary(self, vocabulary):
        """Sets the words, one a token id in order: a list of strings, or the path of a file
        with one word a line (None: no vocabulary yet, as keras-hub tokenizers start)."""
        if vocabulary is None:
            self.vocabulary = None
            return
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as file:
                vocabulary = [line.rstrip("\n") for line in file]
        vocabulary = list(vocabulary)
        if tuple(vocabulary[:4]) != SPECIAL_TOKENS:
            raise ValueError(
                f"`vocabulary` must start with {list(SPECIAL_TOKENS)}. "
                f"Received: {vocabulary[:4]}"
            )
        if len(set(vocabulary)) != len(vocabulary) or any(
            not word or any(c.isspace() for c in word) for word in vocabulary
        ):
            raise ValueError("`vocabulary` must hold distinct, non-empty words without spaces.")
        self.vocabulary = vocabulary
        self._ids = {word: i for i, word in enumerate(vocabulary)}
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary), tf.range(len(vocabulary), dtype="int32")
            ),
            default_value=1,
        )
        self._words = tf.constant(vocabulary)
        self._update_special_token_ids()

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, VOCABULARY_FILE), "w", encoding="utf-8") as file:
            file.writelines(word + "\n" for word in self.vocabulary)

    def load_assets(self, dir_path):
        self.set_vocabulary(os.path.join(dir_path, VOCABULARY_FILE))

    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError("No vocabulary has been set for WordLevelTokenizer.")

    def get_vocabulary(self):
        self._check_vocabulary()
        return list(self.vocabulary)

    def vocabulary_size(self):
        self._check_vocabulary()
        return len(self.vocabulary)

    def id_to_token(self, id):
        self._check_vocabulary()
        if not 0 <= id < len(self.vocabulary):
            raise ValueError(f"`id` must be in [0, {len(self.vocabulary)}). Received: {id}")
        return self.vocabulary[id]

    def token_to_id(self, token):
        self._check_vocabulary()
        return self._ids.get(token, 1)

    def tokenize(self, inputs):
        self._check_vocabulary()
        if isinstance(inputs, dict):  # e.g. a dataset already mapped through the preprocessor
            raise ValueError(
                "`inputs` must be strings. Received a dict with keys "
                f"{sorted(inputs)}: token ids go to a model without a preprocessor."
            )
        if self._use_tf_workflow():
            return self._tokenize_tf(inputs)
        texts, batched, _ = canonicalize_python_string_inputs(inputs)
        ids = [[self._ids.get(word, 1) for word in text.split()] for text in texts]
        return ids if batched else np.array(ids[0], dtype="int32")

    @preprocessing_function
    def _tokenize_tf(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        unbatched = inputs.shape.rank == 0
        words = tf.strings.split(inputs[tf.newaxis] if unbatched else inputs)
        ids = tf.ragged.map_flat_values(self._table.lookup, words)
        return ids[0] if unbatched else ids

    def detokenize(self, inputs):
        self._check_vocabulary()
        if self._use_tf_workflow():
            return self._detokenize_tf(inputs)
        sequences, batched = canonicalize_python_token_inputs(inputs)
        texts = [" ".join(self.id_to_token(int(i)) for i in ids) for ids in sequences]
        return texts if batched else texts[0]

    @preprocessing_function
    def _detokenize_tf(self, inputs):
        inputs, unbatched, _ = convert_to_ragged_batch(inputs)
        words = tf.ragged.map_flat_values(tf.gather, self._words, tf.cast(inputs, "int32"))
        texts = tf.strings.reduce_join(words, axis=-1, separator=" ")
        return tf.squeeze(texts, 0) if unbatched else texts

    def get_config(self):
        return {**super().get_config(), "vocabulary": None}  # the vocabulary is an asset


def count_words(files):
    """Word counts of text files, or of a `tf.data.Dataset` of lines."""
    counts = collections.Counter()
    if isinstance(files, tf.data.Dataset):
        for line in files.as_numpy_iterator():
            counts.update(line.decode("utf-8").split())
        return counts
    for path in files:
        with open(path, encoding="utf-8") as file:
            for line in file:
                counts.update(line.split())
    return counts
