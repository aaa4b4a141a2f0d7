"""The two perplexity protocols against a hand computation, window by window."""

import math

import numpy as np
import pytest

from fwp_keras.training import evaluate
from training_utils import VOCABULARY, nll_float64, tiny_lm

TEXT = np.random.default_rng(3).integers(0, VOCABULARY, 29).astype(np.int32)


def forward(lm, ids):
    ids = np.asarray(ids, np.int32)[None]
    return lm({"token_ids": ids, "padding_mask": np.ones(ids.shape, bool)})


@pytest.mark.parametrize("family", ["delta_net", "transformer"])
@pytest.mark.parametrize("length,batch_size", [(8, 5), (8, 1), (40, 3)])
def test_sliding_window_is_the_window_by_window_sum(family, length, batch_size):
    lm = tiny_lm(family)
    length_used = min(length, len(TEXT) - 1)
    nll = []
    for i in range(len(TEXT) - length_used):  # batch 1: a fresh model for every window
        window = nll_float64(forward(lm, TEXT[i:i + length_used]),
                             TEXT[None, i + 1:i + length_used + 1])[0]
        nll.extend(window if i == 0 else window[-1:])
    got = evaluate.sliding_window(lm, TEXT, length, batch_size, progress=False)
    assert got["tokens"] == len(nll) == len(TEXT) - 1
    np.testing.assert_allclose(got["nll"], np.mean(nll), rtol=1e-6)
    np.testing.assert_allclose(got["perplexity"], math.exp(np.mean(nll)), rtol=1e-6)
    np.testing.assert_allclose(got["bits_per_token"], np.mean(nll) / math.log(2), rtol=1e-6)


@pytest.mark.parametrize("length", [1, 5, 100])
def test_no_truncation_is_one_pass_over_the_whole_text(length):
    lm = tiny_lm()
    nll = nll_float64(forward(lm, TEXT[:-1]), TEXT[None, 1:])[0]
    got = evaluate.no_truncation(lm, TEXT, length, progress=False)
    assert got["tokens"] == len(TEXT) - 1
    np.testing.assert_allclose(got["nll"], nll.mean(), rtol=1e-5)
    if length < len(TEXT):  # the state matters: a sliding window of the same L differs
        window = evaluate.sliding_window(lm, TEXT, max(length, 2), progress=False)
        assert abs(window["nll"] - got["nll"]) > 1e-4


def test_protocols_reject_what_they_cannot_measure():
    with pytest.raises(ValueError, match="no fast weights"):
        evaluate.no_truncation(tiny_lm("transformer"), TEXT, 8, progress=False)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        evaluate.sliding_window(tiny_lm(), TEXT[:1], 8, progress=False)
