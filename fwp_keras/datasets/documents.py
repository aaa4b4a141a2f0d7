"""Text to documents, as the language-model pipeline reads it: lists of non-empty lines.

- `text`: the whole text one document (a file of a plain-text corpus, say one play);
- `wikitext`: WikiText's `wiki.*.tokens`, one document per article, each starting at its
  top-level heading (` = Title = `; ` = = Section = = ` headings stay inside the article).
"""

import re

from fwp_keras import _validation as validation

FORMATS = ("text", "wikitext")
_WIKITEXT_HEADING = re.compile(r"^ = [^=].* = $")


def lines(text):
    """The lines of `text` as a file opened in text mode gives them (universal newlines)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def split_documents(text, format="text"):
    """The documents of `text` (see the module), empty ones dropped."""
    validation.one_of("format", format, FORMATS)
    if format == "text":
        return [[line for line in lines(text) if line.strip()]] if text.strip() else []
    documents = []
    for line in lines(text):
        if _WIKITEXT_HEADING.match(line) or not documents:
            documents.append([])
        if line.strip():
            documents[-1].append(line.strip())
    return [document for document in documents if document]
