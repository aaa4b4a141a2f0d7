"""Shakespeare: 42 works shipped, the presets' split (Twelfth Night validates, Macbeth tests),
and the documents the language-model pipeline reads."""

import pytest

from fwp_keras.datasets import shakespeare


def test_every_work_is_in_exactly_one_split():
    works = shakespeare.load_data("all")
    assert len(works) == 42 and list(works) == sorted(works)
    assert works["macbeth"].lstrip().startswith("MACBETH")
    splits = {split: shakespeare.load_data(split) for split in ("train", "validation", "test")}
    assert list(splits["validation"]) == ["twelfth_night"]
    assert list(splits["test"]) == ["macbeth"]
    assert len(splits["train"]) == 40
    for split in splits.values():
        for work, text in split.items():
            assert works[work] == text
    assert sorted(w for split in splits.values() for w in split) == sorted(works)


def test_documents_are_one_per_work_of_its_non_empty_lines():
    (macbeth,) = shakespeare.documents("test")
    text = shakespeare.load_data("test")["macbeth"]
    assert macbeth == [line for line in text.split("\n") if line.strip()]
    assert len(shakespeare.documents("train")) == 40


def test_an_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="`split` must be one of"):
        shakespeare.load_data("valid")
