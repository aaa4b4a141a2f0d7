"""WikiText: the shipped WikiText-2 valid split offline, its articles, and the download path
of the published archives (a local origin standing for the author's host)."""

import hashlib
import os
import zipfile

import pytest

from fwp_keras.datasets import wikitext
from fwp_keras.datasets.corpus_files import CorpusFile


def test_wikitext_2_valid_is_shipped_with_its_published_lines_and_articles():
    text = wikitext.load_data("valid")
    assert text.count("\n") == 3760  # torchtext's NUM_LINES for WikiText-2 valid
    articles = wikitext.documents("valid")
    assert len(articles) == 60
    assert articles[0][0] == "= Homarus gammarus ="
    assert all(article[0].startswith("= ") and not article[0].startswith("= =")
               for article in articles)


def archive(folder, version, members):
    path = folder / f"{version}-v1.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(f"{version}/{name}", text)
    return path


def test_other_splits_download_the_archive_once_and_extract_them(tmp_path, monkeypatch):
    origin = tmp_path / "origin"
    origin.mkdir()
    members = {"wiki.train.tokens": " \n = A = \n a b <unk> c \n",
               "wiki.test.tokens": " \n = B = \n d e \n"}
    path = archive(origin, "wikitext-103", members)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(wikitext.ARCHIVES, "wikitext-103",
                        CorpusFile("wikitext-103", "wikitext-103-v1.zip", md5))
    cache = tmp_path / "cache"
    for split in ("train", "test"):
        assert wikitext.load_data(split, version="wikitext-103", origin=str(origin),
                                  cache_dir=cache) == members[f"wiki.{split}.tokens"]
    folder = cache / "datasets" / "fwp_keras" / "wikitext-103"
    os.remove(folder / "wikitext-103-v1.zip")  # the extracted splits are enough from now on
    assert wikitext.documents("train", version="wikitext-103", cache_dir=cache) == [
        ["= A =", "a b <unk> c"]]


def test_a_corrupt_archive_is_refused(tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    archive(origin, "wikitext-2", {"wiki.train.tokens": "not the published file\n"})
    with pytest.raises(OSError, match="fails the pinned md5 checksum 542ccef"):
        wikitext.load_data("train", origin=str(origin), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("arguments, match", [
    (dict(split="validation"), "`split` must be one of"),
    (dict(version="wikitext-3"), "`version` must be one of")])
def test_bad_arguments_are_clear_errors(arguments, match):
    with pytest.raises(ValueError, match=match):
        wikitext.load_data(**arguments)
