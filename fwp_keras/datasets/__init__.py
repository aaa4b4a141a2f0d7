"""Provided datasets, in the style of `keras.datasets`: one module per corpus, each with a
`load_data(split, ...)` that returns plain Python / NumPy data.

- `multi30k`: English-German translation (`train`, `val` shipped; test sets downloaded);
- `shakespeare`: the complete works, one text per work (shipped), named works held out;
- `wikitext`: WikiText-2 (`valid` shipped) and WikiText-103, word-level token format;
- `retrieval`: the synthetic associative retrieval of the paper's Sec. 6.1 (generated).

Shipped files come from the package, offline; the others download once with
`keras.utils.get_file` against pinned checksums (`corpus_files.py`). Every loader takes
`origin=` (a mirror URL or a local folder) and `cache_dir=`.

The command lines name them: `fwp-train lm --dataset shakespeare`, `fwp-train mt --dataset
multi30k`, `fwp-evaluate lm --dataset wikitext-2 --split test`.
"""

import importlib

from fwp_keras.datasets.corpus_files import DownloadError

# name: (module, its load_data keywords). Modules by name, imported on first use: the command
# lines list the names in `--help` without loading TensorFlow.
_TEXT = {"shakespeare": ("shakespeare", {}),
         "wikitext-2": ("wikitext", {"version": "wikitext-2"}),
         "wikitext-103": ("wikitext", {"version": "wikitext-103"})}
_TRANSLATION = {"multi30k": ("multi30k", {})}
_SUBMODULES = ("multi30k", "retrieval", "shakespeare", "wikitext")
TEXT_DATASETS = tuple(_TEXT)
TRANSLATION_DATASETS = tuple(_TRANSLATION)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"fwp_keras.datasets.{name}")
    raise AttributeError(f"module 'fwp_keras.datasets' has no attribute {name!r}")


def _module(name, kinds):
    """`(module, load_data keywords)` of the dataset `name` among `kinds`."""
    if name not in kinds:
        raise ValueError(f"`dataset` must be one of {tuple(kinds)}. Received: {name!r}")
    module, keywords = kinds[name]
    return __getattr__(module), keywords


def _corpus(name):
    """The module of the text or translation dataset `name`."""
    return _module(name, {**_TEXT, **_TRANSLATION})[0]


def splits(name):
    """The splits of the text or translation dataset `name`."""
    return _corpus(name).SPLITS


def validation_split(name):
    """The split `name` selects models on (`valid`, `val`, `validation`, as the corpus
    names it)."""
    return _corpus(name).VALIDATION_SPLIT


def text_documents(name, split, *, origin=None, cache_dir=None):
    """The documents of a text dataset's split as the language-model pipeline reads them:
    lists of non-empty lines (a work of Shakespeare, an article of WikiText)."""
    module, keywords = _module(name, _TEXT)
    return module.documents(split, origin=origin, cache_dir=cache_dir, **keywords)


def translation_pairs(name, split, *, origin=None, cache_dir=None):
    """`(sources, targets)` of a translation dataset's split."""
    module, _ = _module(name, _TRANSLATION)
    return module.load_data(split, origin=origin, cache_dir=cache_dir)


__all__ = ["DownloadError", "multi30k", "retrieval", "shakespeare", "splits",
           "text_documents", "translation_pairs", "validation_split", "wikitext",
           "TEXT_DATASETS", "TRANSLATION_DATASETS"]
