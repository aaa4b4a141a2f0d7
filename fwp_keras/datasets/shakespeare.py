"""Shakespeare's complete works: 37 plays and 5 poems, one text per work (Project Gutenberg).

    from fwp_keras.datasets import shakespeare

    works = shakespeare.load_data("train")       # {"alls_well_that_ends_well": "...", ...}
    macbeth = shakespeare.load_data("test")["macbeth"]

The split the zoo's Shakespeare presets use holds named works out: `validation` is Twelfth
Night, `test` is Macbeth, `train` the other 40; `all` is every work. The texts are Project
Gutenberg's with its header and footer removed (public domain; `data/shakespeare/LICENSE.md`),
shipped inside the package as one archive.
"""

import tarfile

from fwp_keras import _validation as validation
from fwp_keras.datasets.corpus_files import CorpusFile, fetch
from fwp_keras.datasets.documents import split_documents

CORPUS = "shakespeare"
ARCHIVE = CorpusFile(CORPUS, "shakespeare.tar.gz",
                     "4941eb539643d4fb7a6b09d2b67499ae062bfae35b8cad905d426fb543d2d557",
                     shipped=True)
HELD_OUT = {"validation": ("twelfth_night",), "test": ("macbeth",)}
SPLITS = ("train", "validation", "test", "all")
VALIDATION_SPLIT = "validation"


def load_data(split="train", *, origin=None, cache_dir=None):
    """`{work: text}` of `split`, in alphabetical order of the works' names (the file names
    without `.txt`), each text the whole work.

    Args:
        split: one of `SPLITS`.
        origin: a folder or base URL holding `shakespeare.tar.gz` (None: the shipped copy).
        cache_dir: the cache for a download from `origin`.
    """
    validation.one_of("split", split, SPLITS)
    path = fetch(ARCHIVE, origin=origin, cache_dir=cache_dir)
    with tarfile.open(path, "r:gz") as archive:
        works = {member.name.removesuffix(".txt"): archive.extractfile(member).read().decode(
            "utf-8") for member in archive.getmembers() if member.isfile()}
    held_out = {work for works_of_split in HELD_OUT.values() for work in works_of_split}
    if split == "all":
        chosen = works
    elif split == "train":
        chosen = {work: text for work, text in works.items() if work not in held_out}
    else:
        chosen = {work: works[work] for work in HELD_OUT[split]}
    return dict(sorted(chosen.items()))


def documents(split="train", **where):
    """The documents of `split` as the language-model pipeline reads text: one per work,
    each the list of its non-empty lines."""
    return [document for text in load_data(split, **where).values()
            for document in split_documents(text, "text")]
