"""The zoo's tokenizers: SentencePiece vocabularies trained here with keras-hub's trainer, and
the word-level tokenizer of WikiText-format corpora, against the data themselves."""

import collections
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import zoo_utils as zu
from fwp_keras import zoo
from zoo_utils import to_np

WIKI_LINES = [line for line in open(zu.WIKITEXT, encoding="utf-8").read().splitlines()
              if line.strip()][:200]

# Tokenizers and argument checks run in tf.data and Python, the same on every backend.
pytestmark = pytest.mark.skipif(zu.BACKEND != "tensorflow", reason="backend-independent")


def test_sentence_piece_ids_and_round_trip():
    tokenizer = zu.sentence_piece_tokenizer()
    assert (tokenizer.pad_token_id, tokenizer.start_token_id, tokenizer.end_token_id) == (0, 2, 3)
    assert tokenizer.id_to_token(1) == "<unk>" and tokenizer.vocabulary_size() == 400
    lines = ["Is this a dagger which I see before me,", "Out, damned spot! out, I say!"]
    ids = tokenizer(lines)
    assert tokenizer.detokenize(ids) == lines


def test_no_character_is_lost_to_unk():
    """Byte fallback: characters the training text (Macbeth) never had come back whole; the
    old vocabularies turned them into <unk> ("QUEEN ELI ⁇ ABETH")."""
    tokenizer = zu.sentence_piece_tokenizer()
    lines = ["QUEEN ELIZABETH. Zounds!", "Ein Mann mit T-Shirt grüßt Zoë – „schön“ 漢字."]
    ids = tokenizer(lines)
    assert 1 not in np.concatenate([np.asarray(row) for row in ids])
    assert tokenizer.detokenize(ids) == lines


def test_word_level_vocabulary_is_the_training_words_by_frequency():
    tokenizer = zoo.train_word_level_tokenizer([zu.WIKITEXT])
    counts = collections.Counter(open(zu.WIKITEXT, encoding="utf-8").read().split())
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert set(vocabulary[4:]) == set(counts) - {"<unk>"}
    frequencies = [counts[w] for w in vocabulary[4:]]
    assert frequencies == sorted(frequencies, reverse=True)
    # `<unk>` in the data is the tokenizer's <unk> (id 1), as in the data.
    assert tokenizer.token_to_id("<unk>") == 1 and counts["<unk>"] > 0


def test_word_level_round_trip_keeps_the_data_as_it_is():
    tokenizer = zoo.train_word_level_tokenizer([zu.WIKITEXT])
    ids = tokenizer(WIKI_LINES)  # eager: keras-hub's Python path
    texts = tokenizer.detokenize(ids)
    assert texts == [" ".join(line.split()) for line in WIKI_LINES]
    unk_line = next(line for line in WIKI_LINES if "<unk>" in line)
    assert 1 in list(tokenizer(unk_line))
    # The tf.data path gives the same ids.
    dataset = tf.data.Dataset.from_tensor_slices(WIKI_LINES[:20]).map(tokenizer)
    for graph_ids, eager_ids in zip(dataset.as_numpy_iterator(), ids[:20]):
        np.testing.assert_array_equal(graph_ids, eager_ids)


def test_word_level_rare_words_become_unk():
    tokenizer = zoo.train_word_level_tokenizer([zu.WIKITEXT], max_vocabulary_size=100)
    assert tokenizer.vocabulary_size() == 100
    ids = np.concatenate([np.asarray(i) for i in tokenizer(WIKI_LINES)])
    assert ids.max() < 100 and (ids == 1).mean() > 0.2
    counts = collections.Counter(open(zu.WIKITEXT, encoding="utf-8").read().split())
    assert tokenizer.token_to_id(counts.most_common(1)[0][0]) == 4


def test_tokenizer_command_writes_a_loadable_preset(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "fwp_keras.zoo.fast_weight.tokenizer_training", "word",
         zu.WIKITEXT, "--output-dir", str(tmp_path), "--vocabulary-size", "500"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    tokenizer = zoo.load_tokenizer(str(tmp_path))
    assert isinstance(tokenizer, zoo.WordLevelTokenizer) and tokenizer.vocabulary_size() == 500
    np.testing.assert_array_equal(
        tokenizer(WIKI_LINES[3]),
        zoo.train_word_level_tokenizer([zu.WIKITEXT], max_vocabulary_size=500)(WIKI_LINES[3]),
    )


def test_sentence_piece_tokenizer_saved_and_loaded(tmp_path):
    tokenizer = zu.sentence_piece_tokenizer()
    tokenizer.save_to_preset(str(tmp_path))
    loaded = zoo.load_tokenizer(str(tmp_path))
    assert isinstance(loaded, zoo.FastWeightTokenizer)
    np.testing.assert_array_equal(loaded("Out, damned spot!"), tokenizer("Out, damned spot!"))


def test_word_level_preprocessor_packs_for_fit():
    tokenizer = zoo.train_word_level_tokenizer([zu.WIKITEXT], max_vocabulary_size=300)
    preprocessor = zoo.DeltaNetCausalLMPreprocessor(tokenizer, sequence_length=8)
    x, y, weights = preprocessor(["the game was released in", "the"])
    ids = to_np(x["token_ids"])
    assert ids[0, 0] == 2 and ids[1].tolist()[:3] == [2, 4, 3]  # <s> the </s>
    np.testing.assert_array_equal(to_np(y)[:, :-1], ids[:, 1:])


@pytest.mark.parametrize("call, message", [
    (lambda: zoo.train_word_level_tokenizer([]), "files"),
    (lambda: zoo.train_word_level_tokenizer(["/no/such/file"]), "no such file"),
    (lambda: zoo.train_word_level_tokenizer([zu.WIKITEXT], max_vocabulary_size=4),
     "max_vocabulary_size"),
    (lambda: zoo.train_sentence_piece_tokenizer([zu.WIKITEXT], 0), "vocabulary_size"),
    (lambda: zoo.train_sentence_piece_tokenizer([zu.WIKITEXT], 10), "vocabulary_size=10"),
    (lambda: zoo.WordLevelTokenizer(["a", "b"]), "must start with"),
    (lambda: zoo.load_tokenizer("/tmp"), "tokenizer.json"),
    (lambda: zoo.WordLevelTokenizer(["<pad>", "<unk>", "<s>", "</s>", "a"])(
        {"token_ids": np.zeros((1, 2), "int32")}), "`inputs` must be strings"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
