"""The download path of `fwp_keras.datasets` against local `file://` origins: the pinned
checksum accepted, another refused (and never used), a truncated cache fetched again, a clear
error offline, and the shipped copies checked as downloads are."""

import gzip
import hashlib
import os

import pytest

from fwp_keras.datasets import corpus_files
from fwp_keras.datasets.corpus_files import CorpusFile, DownloadError, fetch

CONTENT = "Ein Mann fährt Fahrrad.\nZwei Hunde spielen im Schnee.\n".encode("utf-8") * 50


@pytest.fixture
def origin(tmp_path):
    """A folder standing for a corpus's public location, holding one published file."""
    folder = tmp_path / "origin"
    folder.mkdir()
    (folder / "sentences.txt").write_bytes(CONTENT)
    return folder


def published(checksum=None, algorithm="sha256"):
    return CorpusFile("fixture", "sentences.txt",
                      checksum or hashlib.new(algorithm, CONTENT).hexdigest())


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_the_pinned_checksum_is_accepted_and_the_file_cached(origin, tmp_path, algorithm):
    cache = tmp_path / "cache"
    for where in (str(origin), origin.as_uri()):  # a folder, or a file:// URL
        path = fetch(published(algorithm=algorithm), origin=where, cache_dir=cache)
        assert path == os.path.join(cache, "datasets", "fwp_keras", "fixture", "sentences.txt")
        with open(path, "rb") as file:
            assert file.read() == CONTENT
    (origin / "sentences.txt").unlink()  # from now on only the cache has it
    assert fetch(published(algorithm=algorithm), origin=str(origin), cache_dir=cache) == path


def test_a_file_of_another_checksum_is_refused_and_not_kept(origin, tmp_path):
    cache = tmp_path / "cache"
    wrong = published(checksum="0" * 64)
    with pytest.raises(DownloadError, match=r"fails the pinned sha256 checksum 0{64}") as error:
        fetch(wrong, origin=str(origin), cache_dir=cache)
    assert origin.as_uri() in str(error.value)
    assert not os.path.exists(cache / "datasets" / "fwp_keras" / "fixture" / "sentences.txt")


def test_a_truncated_download_in_the_cache_is_fetched_again(origin, tmp_path):
    cache = tmp_path / "cache"
    folder = cache / "datasets" / "fwp_keras" / "fixture"
    folder.mkdir(parents=True)
    (folder / "sentences.txt").write_bytes(CONTENT[:100])  # a download killed half-way
    path = fetch(published(), origin=str(origin), cache_dir=cache)
    with open(path, "rb") as file:
        assert file.read() == CONTENT


def test_offline_is_a_clear_error_naming_the_url_and_the_cache(tmp_path):
    cache = tmp_path / "cache"
    missing = (tmp_path / "nowhere").as_uri()  # stands for an unreachable host
    with pytest.raises(DownloadError) as error:
        fetch(published(), origin=missing, cache_dir=cache)
    message = str(error.value)
    assert f"{missing}/sentences.txt" in message
    assert str(cache / "datasets" / "fwp_keras" / "fixture") in message
    assert "origin=" in message


@pytest.mark.parametrize("origin, match", [
    ("no/such/folder", "`origin` must be a URL"), (3, "`origin` must be a URL or a folder")])
def test_an_origin_that_is_neither_url_nor_folder_is_a_value_error(tmp_path, origin, match):
    with pytest.raises(ValueError, match=match):
        fetch(published(), origin=origin, cache_dir=tmp_path)


def test_a_damaged_shipped_copy_is_an_error_not_data(tmp_path, monkeypatch):
    (tmp_path / "fixture").mkdir()
    (tmp_path / "fixture" / "sentences.txt").write_bytes(CONTENT[:-1])
    monkeypatch.setattr(corpus_files, "SHIPPED_DIR", str(tmp_path))
    shipped = CorpusFile("fixture", "sentences.txt",
                         hashlib.sha256(CONTENT).hexdigest(), shipped=True)
    with pytest.raises(DownloadError, match="fails its sha256 checksum"):
        fetch(shipped)


def test_read_text_reads_plain_and_gzip_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(CONTENT)
    with gzip.open(tmp_path / "a.txt.gz", "wb") as file:
        file.write(CONTENT)
    assert corpus_files.read_text(str(tmp_path / "a.txt")) == CONTENT.decode("utf-8")
    assert corpus_files.read_text(str(tmp_path / "a.txt.gz")) == CONTENT.decode("utf-8")
