"""Multi30k: the shipped splits offline and aligned, the test sets through the download path
(a local origin standing for the Multi30k repository), and bad arguments."""

import gzip
import hashlib

import pytest

from fwp_keras.datasets import multi30k


def test_the_shipped_splits_load_offline_aligned_and_whole():
    english, german = multi30k.load_data("train")
    assert len(english) == len(german) == 29000
    assert english[0] == ("Two young, White males are outside near many bushes.")
    assert german[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    english, german = multi30k.load_data("val")
    assert len(english) == len(german) == 1014
    assert all(sentence.strip() for sentence in english + german)


def test_as_dataset_feeds_the_seq2seq_preprocessor_inputs():
    pairs = list(multi30k.as_dataset("val").take(2).as_numpy_iterator())
    english, german = multi30k.load_data("val")
    assert [pair["encoder_text"].decode() for pair in pairs] == english[:2]
    assert [pair["decoder_text"].decode() for pair in pairs] == german[:2]


def test_a_test_set_downloads_from_the_origin_once(tmp_path, monkeypatch):
    """test2016 from a folder laid out as the repository's data/task1/raw/, with this
    fixture's checksums pinned in place of the published files'."""
    origin = tmp_path / "raw"
    origin.mkdir()
    sentences = {"en": ["A dog runs.", "Two men sit."], "de": ["Ein Hund rennt.",
                                                               "Zwei Männer sitzen."]}
    checksums = {}
    for language, lines in sentences.items():
        data = gzip.compress("\n".join(lines).encode("utf-8") + b"\n", mtime=0)
        (origin / f"test_2016_flickr.{language}.gz").write_bytes(data)
        checksums[language] = hashlib.sha256(data).hexdigest()
    monkeypatch.setitem(multi30k._FILES, "test2016", ("test_2016_flickr", checksums))
    cache = tmp_path / "cache"
    assert multi30k.load_data("test2016", origin=str(origin), cache_dir=cache) == (
        sentences["en"], sentences["de"])
    for path in origin.iterdir():
        path.unlink()
    # Read from the cache now; the default origin is never asked.
    assert multi30k.load_data("test2016", origin=str(origin), cache_dir=cache)[1] == \
        sentences["de"]


def test_the_default_origin_is_the_pinned_multi30k_repository():
    files = multi30k.files("test2017_mscoco")
    assert files["de"].name == "test_2017_mscoco.de.gz" and not files["de"].shipped
    assert multi30k.ORIGIN.startswith("https://raw.githubusercontent.com/multi30k/dataset/")
    assert all(file.shipped for split in multi30k.SHIPPED_SPLITS
               for file in multi30k.files(split).values())


def test_an_unknown_split_names_the_argument_and_the_splits():
    with pytest.raises(ValueError, match=r"`split` must be one of .*'test2016'.*Received: split='test'"):
        multi30k.load_data("test")
