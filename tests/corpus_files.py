"""The provided datasets (`fwp_keras.datasets`, shipped in the package) written out as files,
for the tests of what reads files (`--train`, `--text`, `--source`, tokenizer trainers).

Written once per machine, atomically (parallel test workers share them).
"""

import os

from fwp_keras.datasets import multi30k, shakespeare, wikitext

FOLDER = os.path.join(os.environ.get("PYTEST_TMPDIR", "/tmp"),
                      f"fwp_keras_test_corpora_{os.getuid()}")


def _written(name, text):
    path = os.path.join(FOLDER, name)
    if not os.path.exists(path):
        os.makedirs(FOLDER, exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, path)
    return path


def shakespeare_work(work):
    """`<work>.txt`: one work of `shakespeare.load_data("all")`, say "hamlet"."""
    return _written(f"{work}.txt", shakespeare.load_data("all")[work])


def wikitext_2_valid():
    """`wiki.valid.tokens` of WikiText-2."""
    return _written("wiki.valid.tokens", wikitext.load_data("valid"))


def multi30k_file(split, language):
    """`<split>.<language>` of Multi30k, one sentence a line."""
    sentences = multi30k.load_data(split)[multi30k.LANGUAGES.index(language)]
    return _written(f"multi30k.{split}.{language}", "\n".join(sentences) + "\n")
