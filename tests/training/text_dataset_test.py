"""Language-modelling batches against plain-Python readings of the two protocols."""

import numpy as np
import pytest

from fwp_keras.training.datasets import text


def batches(dataset):
    return [({k: v.numpy() for k, v in x.items()}, y.numpy()) for x, y in dataset]


def test_shuffled_segments_cover_every_segment_once_per_epoch_in_a_new_order():
    tokens = np.arange(1000, dtype=np.int32)
    length, batch = 9, 4
    count = 999 // length
    per_epoch = count // batch
    got = batches(text.shuffled_segments(tokens, length, batch, seed=3,
                                         num_steps=2 * per_epoch))
    starts = [[int(row[0]) for row in x["token_ids"]] for x, _ in got]
    for x, y in got:  # labels are the inputs shifted by one; each row a window of the stream
        np.testing.assert_array_equal(x["token_ids"][:, 1:], y[:, :-1])
        np.testing.assert_array_equal(y, x["token_ids"] + 1)
        assert x["padding_mask"].all()
    first, second = (sum(starts[i * per_epoch:(i + 1) * per_epoch], []) for i in (0, 1))
    windows = {i * length for i in range(count)}
    for epoch in (first, second):
        assert len(set(epoch)) == len(epoch) == per_epoch * batch and set(epoch) <= windows
    assert first != second
    again = batches(text.shuffled_segments(tokens, length, batch, seed=3, start_step=per_epoch,
                                           num_steps=1))
    np.testing.assert_array_equal(again[0][0]["token_ids"], got[per_epoch][0]["token_ids"])
    ordered = batches(text.shuffled_segments(tokens, length, batch, shuffle=False, num_steps=1))
    assert [int(r[0]) for r in ordered[0][0]["token_ids"]] == [0, 9, 18, 27]


def test_contiguous_streams_continue_each_row_and_reset_at_documents():
    tokens = np.arange(203, dtype=np.int32)
    length, batch = 10, 2
    starts = [0, 35, 150]
    stream = 202 // batch
    per_epoch = (stream - 1) // length
    got = batches(text.contiguous_streams(tokens, length, batch, document_starts=starts,
                                          num_steps=per_epoch + 1))
    for n in range(per_epoch - 1):  # row b of batch n+1 continues row b of batch n
        np.testing.assert_array_equal(got[n + 1][0]["token_ids"][:, 0], got[n][1][:, -1])
    for n, (x, _) in enumerate(got):
        for b in range(batch):
            begin = b * stream + (n % per_epoch) * length
            np.testing.assert_array_equal(x["token_ids"][b], tokens[begin:begin + length])
            began = any(begin - length < s <= begin for s in starts[1:])
            assert x["reset"][b] == (n % per_epoch == 0 or began), (n, b)
    assert got[per_epoch][0]["reset"].all()  # a new data epoch


@pytest.mark.parametrize("format", ["auto", "wikitext"])
def test_wikitext_articles_are_documents(tmp_path, format):
    path = tmp_path / "wiki.valid.tokens"
    path.write_text(" \n = Alpha = \n \n a b c \n = = Sub = = \n d \n = Beta = \n e f \n")
    docs = text.read_documents(str(path), format=format)
    assert docs == [["= Alpha =", "a b c", "= = Sub = =", "d"], ["= Beta =", "e f"]]


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "missing.txt"), "not found"),
    (lambda p: (p / "empty.txt").write_text("\n \n") and str(p / "empty.txt"), "empty"),
])
def test_missing_or_empty_files_are_clear_errors(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        text.read_documents(make(tmp_path))


def test_too_little_text_or_bad_lengths_are_clear_errors():
    with pytest.raises(ValueError, match="too few"):
        text.shuffled_segments(np.arange(20), 10, 4)
    with pytest.raises(ValueError, match="sequence_length"):
        text.contiguous_streams(np.arange(20), 0, 1)
