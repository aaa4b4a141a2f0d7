"""Where a corpus's bytes come from: the copy shipped inside the package, or a download.

Every file has a pinned checksum (the published one where there is one) and is checked against
it before use, shipped or downloaded. Downloads go through `keras.utils.get_file` into
`<cache_dir>/datasets/fwp_keras/<corpus>/` (`cache_dir`: `$KERAS_HOME`, else `~/.keras`); a
partial or corrupt file in the cache fails its checksum, so it is fetched again, never used.

`origin` (every loader takes it) is where the corpus's published files are: a base URL, or a
local folder (a mirror, or an air-gapped machine's copy) that holds them under their published
names. With no `origin`, shipped files come from the package and the rest from the corpus's
canonical location.
"""

import dataclasses
import gzip
import hashlib
import os
import pathlib
import urllib.parse
import urllib.request
import zipfile

from fwp_keras import __version__

SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class DownloadError(OSError):
    """A corpus file could not be fetched, or what was fetched is not the published file."""


@dataclasses.dataclass(frozen=True)
class CorpusFile:
    """One published file of a corpus: its name at the origin and its pinned checksum
    (sha256, or md5 where only that is published); `shipped`: a copy is in the package."""

    corpus: str
    name: str
    checksum: str
    shipped: bool = False

    @property
    def algorithm(self):
        return "sha256" if len(self.checksum) == 64 else "md5"

    def matches(self, path):
        digest = hashlib.new(self.algorithm)
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest() == self.checksum


def _cache_subdir(corpus):
    return os.path.join("datasets", "fwp_keras", corpus)


def _cache_base(cache_dir):
    """`cache_dir`, else Keras' home: `$KERAS_HOME`, else `~/.keras` (as `get_file`)."""
    if cache_dir is not None:
        return os.path.expanduser(os.fspath(cache_dir))
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def cache_folder(corpus, cache_dir=None):
    """Where downloads of `corpus` are kept (the folder `keras.utils.get_file` uses)."""
    return os.path.join(_cache_base(cache_dir), _cache_subdir(corpus))


def _url(origin, name):
    if "://" in origin:
        return origin.rstrip("/") + "/" + urllib.parse.quote(name)
    if os.path.isdir(origin):
        return pathlib.Path(os.path.abspath(origin), name).as_uri()
    raise ValueError(f"`origin` must be a URL (https://..., file://...) or an existing folder. "
                     f"Received: origin={origin!r}")


class _UserAgent:
    """Sends a User-Agent naming this library while `get_file` downloads: some hosts refuse
    urllib's default one (WikiText's host was reported to answer it with 403)."""

    def __enter__(self):
        self.previous = getattr(urllib.request, "_opener", None)
        opener = urllib.request.build_opener()
        opener.addheaders = [("User-Agent", f"fwp-keras/{__version__} (keras.utils.get_file)")]
        urllib.request.install_opener(opener)

    def __exit__(self, *exc_info):
        urllib.request.install_opener(self.previous)


def fetch(file, *, origin=None, default_origin=None, cache_dir=None):
    """The local path of `file` (a `CorpusFile`), checked against its checksum: the shipped
    copy when `origin` is None and one is shipped, else downloaded from `origin` (or
    `default_origin`) into the cache, or found there."""
    if origin is None and file.shipped:
        path = os.path.join(SHIPPED_DIR, file.corpus, file.name)
        if not os.path.isfile(path) or not file.matches(path):
            raise DownloadError(
                f"The shipped copy of {file.corpus}'s {file.name} ({path}) is missing or "
                f"fails its {file.algorithm} checksum {file.checksum}: the installation is "
                "damaged. Reinstall fwp-keras, or pass origin= to download the file.")
        return path
    if origin is not None and not isinstance(origin, (str, os.PathLike)):
        raise ValueError(f"`origin` must be a URL or a folder. Received: origin={origin!r}")
    base = os.fspath(origin) if origin is not None else default_origin
    if base is None:
        raise ValueError(f"{file.corpus}'s {file.name} has no public download; pass origin= "
                         "(a folder or URL that holds it).")
    url = _url(base, file.name)
    folder = cache_folder(file.corpus, cache_dir)
    target = os.path.join(folder, file.name)
    import keras  # here, not above: the command lines load this module before TensorFlow

    try:
        # get_file falls back to /tmp/.keras when the cache folder does not exist yet.
        os.makedirs(folder, exist_ok=True)
        with _UserAgent():
            return keras.utils.get_file(
                fname=file.name, origin=url, file_hash=file.checksum,
                hash_algorithm=file.algorithm, cache_dir=_cache_base(cache_dir),
                cache_subdir=_cache_subdir(file.corpus))
    except ValueError as error:  # get_file's "Incomplete or corrupted file detected"
        if os.path.exists(target):
            os.remove(target)  # refused: never used, fetched again next time
        raise DownloadError(
            f"{url} gave a file that fails the pinned {file.algorithm} checksum "
            f"{file.checksum} of {file.corpus}'s {file.name}: refused (removed from "
            f"{folder}). A damaged download or another version of the file; try again, or "
            "use another origin=.") from error
    except Exception as error:  # get_file raises a bare Exception for URL errors
        raise DownloadError(
            f"Could not download {file.corpus}'s {file.name} from {url} into {target}: "
            f"{error}. Without network access, copy the file ({file.algorithm} "
            f"{file.checksum}) into {folder}, or pass origin= a folder that holds it.") from error


def read_text(path):
    """The UTF-8 text of a plain or gzip-compressed (`.gz`) file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        return file.read().decode("utf-8")


def extract(archive, member, destination):
    """`member` of the zip `archive`, written to `destination` once (renamed into place
    when complete: a killed extraction leaves nothing under that name); zipfile checks each
    member's CRC as it reads it."""
    if os.path.isfile(destination):
        return destination
    temporary = f"{destination}.partial"
    with zipfile.ZipFile(archive) as zipped, zipped.open(member) as source, \
            open(temporary, "wb") as target:
        for block in iter(lambda: source.read(1 << 20), b""):
            target.write(block)
    os.replace(temporary, destination)
    return destination
