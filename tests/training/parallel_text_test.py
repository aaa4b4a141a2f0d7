"""Parallel text: aligned-file checks, packing as keras-hub's Seq2SeqLMPreprocessor packs,
token-count batches bucketed by length, step-indexed for resuming."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "zoo"))
import corpus_files  # noqa: E402
import zoo_utils as zu  # noqa: E402
from fwp_keras import zoo  # noqa: E402
from fwp_keras.training.datasets import parallel_text  # noqa: E402

VAL_EN, VAL_DE = (corpus_files.multi30k_file("val", language) for language in ("en", "de"))


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_misaligned_and_empty_lines_are_errors_naming_the_files(tmp_path):
    source = write(tmp_path / "a.en", ["one", "two", "three"])
    with pytest.raises(ValueError, match=r"not aligned: .*a\.en' has 3 lines and .*b\.de' has 2"):
        parallel_text.read_parallel_text(source, write(tmp_path / "b.de", ["eins", "zwei"]))
    with pytest.raises(ValueError, match=r"b\.de' has 1 empty line\(s\) \(line 2\)"):
        parallel_text.read_parallel_text(source, write(tmp_path / "b.de", ["eins", " ", "drei"]))
    with pytest.raises(ValueError, match="no such file"):
        parallel_text.read_parallel_text(source, str(tmp_path / "missing.de"))
    sources, targets = parallel_text.read_parallel_text(VAL_EN, VAL_DE, max_pairs=5)
    assert len(sources) == len(targets) == 5 and sources[1].startswith("A man sleeping")


@pytest.fixture(scope="module")
def tokenizer():
    return zu.sentence_piece_tokenizer(cls=zoo.DeltaNetTokenizer)


@pytest.fixture(scope="module")
def pairs():
    return parallel_text.read_parallel_text(VAL_EN, VAL_DE, max_pairs=120)


def test_batches_hold_what_the_keras_hub_preprocessor_makes_of_each_pair(tokenizer, pairs):
    sources, targets = pairs
    lengths = dict(encoder_sequence_length=40, decoder_sequence_length=40)
    encoded = parallel_text.encode_pairs(tokenizer, sources, targets, **lengths)
    preprocessor = zoo.DeltaNetSeq2SeqLMPreprocessor(tokenizer, **lengths)
    data = parallel_text.token_batches(encoded, max_tokens=300, shuffle=False, num_steps=
                                       parallel_text.steps_per_pass(encoded, max_tokens=300))
    index = {tuple(ids): i for i, ids in enumerate(encoded[0])}  # the pair of a source row
    assert len(index) == len(sources)
    seen = 0
    for x, labels, weights in data.as_numpy_iterator():
        width = x["encoder_token_ids"].shape[1]
        assert width % 8 == 0 and x["decoder_token_ids"].shape[1] == width
        assert x["encoder_token_ids"].size <= max(300, width)  # the token budget
        for row in range(len(labels)):
            length = int(x["encoder_padding_mask"][row].sum())
            source_ids = x["encoder_token_ids"][row, :length]
            i = index[tuple(source_ids)]
            ref, ref_labels, ref_weights = preprocessor(
                {"encoder_text": [sources[i]], "decoder_text": [targets[i]]})
            ref = {k: zu.to_np(v)[0] for k, v in ref.items()}
            n = int(zu.to_np(ref_weights)[0].sum())  # inputs with a label (keras-hub also
            # marks the </s> after them as input; its label is padding)
            np.testing.assert_array_equal(source_ids, ref["encoder_token_ids"][:length])
            assert ref["encoder_padding_mask"].sum() == length
            np.testing.assert_array_equal(x["decoder_token_ids"][row, :n],
                                          ref["decoder_token_ids"][:n])
            assert x["decoder_padding_mask"][row].sum() == n and x["decoder_padding_mask"][row, 0]
            m = int(zu.to_np(ref_weights)[0].sum())
            np.testing.assert_array_equal(labels[row, :m], zu.to_np(ref_labels)[0, :m])
            assert weights[row].sum() == m
            seen += 1
    assert seen == len(sources)


def test_batches_are_a_function_of_the_step(tokenizer, pairs):
    encoded = parallel_text.encode_pairs(tokenizer, *pairs, encoder_sequence_length=40,
                                         decoder_sequence_length=40)
    per_pass = parallel_text.steps_per_pass(encoded, max_tokens=300)

    def batches(start, count, seed=3):
        return list(parallel_text.token_batches(encoded, max_tokens=300, seed=seed,
                                                start_step=start, num_steps=count)
                    .as_numpy_iterator())

    run = batches(0, per_pass + 3)
    resumed = batches(per_pass - 1, 4)  # across a data epoch's end: reshuffled the same way
    for a, b in zip(run[per_pass - 1:], resumed):
        np.testing.assert_array_equal(a[0]["encoder_token_ids"], b[0]["encoder_token_ids"])
        np.testing.assert_array_equal(a[1], b[1])
    first, second = run[:per_pass], run[per_pass:]
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, second))  # reshuffled
    other = batches(0, 3, seed=4)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(run[:3], other))


def test_long_sentences_are_truncated_with_a_warning(tokenizer):
    with pytest.warns(UserWarning, match=r"1 of 2 encoder sentences are longer than 6 tokens"):
        encoded = parallel_text.encode_pairs(
            tokenizer, ["Is this a dagger which I see before me", "Out"], ["Ja", "Nein"],
            encoder_sequence_length=6, decoder_sequence_length=8)
    assert len(encoded[0][0]) == 6 and encoded[0][0][-1] == tokenizer.end_token_id


def test_batches_split_evenly_over_replicas(tokenizer, pairs):
    encoded = parallel_text.encode_pairs(tokenizer, *pairs, encoder_sequence_length=40,
                                         decoder_sequence_length=40)
    per_pass = parallel_text.steps_per_pass(encoded, max_tokens=300, multiple_of=3)
    sizes = [len(batch[1]) for batch in parallel_text.token_batches(
        encoded, max_tokens=300, multiple_of=3, shuffle=False, num_steps=per_pass)
        .as_numpy_iterator()]
    assert sizes and all(size % 3 == 0 for size in sizes)
    buckets = len(parallel_text._Plan(encoded, 300, 8, 3).buckets)
    assert 0 <= len(pairs[0]) - sum(sizes) <= 2 * buckets  # fewer than 3 left over a bucket
