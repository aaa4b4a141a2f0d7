"""WikiText-2 and WikiText-103 (Merity et al. 2017): Wikipedia's Good and Featured articles.

    from fwp_keras.datasets import wikitext

    valid = wikitext.load_data("valid")                          # WikiText-2, shipped
    train = wikitext.load_data("train", version="wikitext-103")   # downloads 181 MB once

The word-level token format (`wiki.{train,valid,test}.tokens` of `wikitext-*-v1.zip`): text
split into words, rare words as `<unk>`, ` = Title = ` headings, ` @-@ ` for joined words.
WikiText-2's `valid` split (217k words) ships inside the package; the rest downloads on first
use from the dataset author's host, checked against the MD5 sums torchtext published. CC BY-SA
3.0 (`data/wikitext-2/LICENSE.md`).
"""

import os

from fwp_keras import _validation as validation
from fwp_keras.datasets.corpus_files import (
    CorpusFile,
    cache_folder,
    extract,
    fetch,
    read_text,
)
from fwp_keras.datasets.documents import split_documents

ORIGIN = "https://wikitext.smerity.com"
# version: the published archive (its MD5 as torchtext pins it)
ARCHIVES = {
    "wikitext-2": CorpusFile("wikitext-2", "wikitext-2-v1.zip",
                             "542ccefacc6c27f945fb54453812b3cd"),
    "wikitext-103": CorpusFile("wikitext-103", "wikitext-103-v1.zip",
                               "9ddaacaf6af0710eda8c456decff7832"),
}
SHIPPED = {("wikitext-2", "valid"): CorpusFile(
    "wikitext-2", "wiki.valid.tokens.gz",
    "3ac34ae2b6509075d52302c50a04a8a1970739ffe1a904f2cd374fefbea3cbf2", shipped=True)}
VERSIONS = tuple(ARCHIVES)
SPLITS = ("train", "valid", "test")
VALIDATION_SPLIT = "valid"


def load_data(split="train", *, version="wikitext-2", origin=None, cache_dir=None):
    """The text of `split` (a string: `wiki.<split>.tokens` as published).

    Args:
        split: one of `SPLITS`.
        version: `"wikitext-2"` (2M training words) or `"wikitext-103"` (103M).
        origin: a folder or base URL holding `<version>-v1.zip` (None: the shipped copy where
            there is one, else the author's host).
        cache_dir: the cache for downloads (None: `$KERAS_HOME`, else `~/.keras`).
    """
    validation.one_of("version", version, VERSIONS)
    validation.one_of("split", split, SPLITS)
    shipped = SHIPPED.get((version, split))
    if shipped is not None and origin is None:
        return read_text(fetch(shipped))
    member = f"wiki.{split}.tokens"
    extracted = os.path.join(cache_folder(version, cache_dir), member)
    if not os.path.isfile(extracted):
        archive = fetch(ARCHIVES[version], origin=origin, default_origin=ORIGIN,
                        cache_dir=cache_dir)
        extract(archive, f"{version}/{member}", extracted)
    return read_text(extracted)


def documents(split="train", **where):
    """The articles of `split` as the language-model pipeline reads text: one document per
    article, each the list of its non-empty lines."""
    return split_documents(load_data(split, **where), "wikitext")
