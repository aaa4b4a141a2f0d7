"""PositionEncoding against the sinusoid formula of Vaswani et al. (2017) and as a table."""

import keras
import numpy as np
import pytest

from fwp_keras.layers.position_encoding import PositionEncoding
from layer_utils import assert_close, to_np


@pytest.mark.parametrize("width", [8, 7])
def test_sinusoidal_is_the_formula_at_every_given_position(width):
    positions = np.array([[0, 1, 2, 50], [3, 3, 0, 1000]], "int32")
    half = width // 2
    frequencies = 10000.0 ** (-np.arange(half) / half)
    angles = positions[..., None] * frequencies
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)
    if width % 2:
        expected = np.concatenate([expected, np.zeros(expected.shape[:-1] + (1,))], axis=-1)
    assert_close(PositionEncoding("sinusoidal", width)(positions), expected)


def test_learned_is_a_table_of_rows():
    layer = PositionEncoding("learned", 4, max_sequence_length=10)
    positions = np.array([[0, 9, 3]], "int32")
    out = to_np(layer(positions))
    table = to_np(layer.embedding.embeddings)
    np.testing.assert_array_equal(out[0], table[[0, 9, 3]])


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="max_sequence_length"):
        PositionEncoding("learned", 4)
    with pytest.raises(ValueError, match="position_encoding"):
        PositionEncoding("rotary", 4)
    assert keras.layers.deserialize(keras.layers.serialize(
        PositionEncoding("learned", 4, 10))).get_config()["max_sequence_length"] == 10
