"""Feature maps phi (paper Section 5) and the key/query normalisations against the float64
NumPy reference."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_utils import assert_close, random, to_np

import reference
from fwp_keras.layers import feature_maps
from fwp_keras.layers.feature_maps import DPFP, ELUPlusOne, FAVORPlus

D = 4  # input dimension d of most tests

# (factory, reference of the built layer, output dimension for d = D)
MAPS = {
    "elu_plus_one": (ELUPlusOne, lambda layer: reference.elu_plus_one, D),
    **{
        f"dpfp_nu{nu}": (
            lambda nu=nu: DPFP(nu=nu),
            lambda layer: lambda x: reference.dpfp(x, layer.nu),
            2 * nu * D,
        )
        for nu in (1, 2, 3)
    },
    "favor_plus": (
        lambda: FAVORPlus(num_features=8, seed=1),
        lambda layer: lambda x: reference.favor_plus(x, to_np(layer.projection), D**-0.25),
        2 * 8,
    ),
    "favor_plus_eq31": (
        lambda: FAVORPlus(num_features=8, seed=1, input_scale=1.0),
        lambda layer: lambda x: reference.favor_plus(x, to_np(layer.projection)),
        2 * 8,
    ),
}


@pytest.mark.parametrize("name", MAPS)
def test_feature_map_matches_reference(name):
    factory, reference_of, dim = MAPS[name]
    layer = factory()
    x = random((2, 5, 3, D), seed=1)
    y = layer(x)
    assert tuple(y.shape) == (2, 5, 3, dim)
    assert tuple(layer.compute_output_shape(x.shape)) == tuple(y.shape)
    assert tuple(layer.compute_output_shape((None, None, D))) == (None, None, dim)
    assert_close(y, reference_of(layer)(x))


def test_dpfp_two_dimensional_input_has_one_active_feature():
    """Figure 1: DPFP-1 maps R^2 to R^4 with exactly one non-zero (positive) component."""
    x = random((2000, 2), seed=2)
    y = to_np(DPFP(nu=1)(x))
    assert y.shape == (2000, 4)
    assert np.all((y > 0).sum(axis=-1) == 1)
    assert np.all(y >= 0)
    # The active component identifies the quadrant of x.
    quadrant = {(True, True): 1, (False, True): 2, (False, False): 3, (True, False): 0}
    expected = [quadrant[(a > 0, b > 0)] for a, b in x]
    np.testing.assert_array_equal(np.argmax(y, axis=-1), expected)


def _favor_kernel_error(num_features, seed, d=32, pairs=64, input_scale=1.0):
    """Mean relative error of phi(x).phi(y) against exp(input_scale^2 x.y)."""
    x, y = random((2, pairs, d), seed=100 + seed) * (0.6 / np.sqrt(d)) / input_scale
    layer = FAVORPlus(num_features=num_features, seed=seed,
                      input_scale=None if input_scale != 1.0 else 1.0)
    phi = to_np(layer(np.concatenate([x, y])))
    estimate = np.sum(phi[:pairs] * phi[pairs:], axis=-1)
    exact = np.exp(input_scale**2 * np.sum(x.astype(np.float64) * y, axis=-1))
    return np.mean(np.abs(estimate - exact) / exact)


@pytest.mark.parametrize("input_scale", [1.0, 32**-0.25], ids=["eq31", "performer_default"])
def test_favor_plus_estimate_improves_with_num_features(input_scale):
    """Mean relative error of phi(x).phi(y) against exp(x.y) (Eq. 31 as written) and against
    exp(x.y / sqrt(d)) (the default d^(-1/4) scaling) for |x'|, |y'| ~ 0.6: about 7e-2, 1e-2 and
    2.5e-3 for m = 16, 256, 4096 (averaged over two seeds)."""
    errors = [np.mean([_favor_kernel_error(m, s, input_scale=input_scale) for s in range(2)])
              for m in (16, 256, 4096)]
    assert errors[0] > 3 * errors[1] and errors[1] > 2 * errors[2], errors
    assert errors[2] < 0.01, errors


def test_favor_plus_orthogonal_rows():
    m = 10
    layer = FAVORPlus(num_features=m, orthogonal=True, seed=0)
    layer.build((None, D))
    projection = to_np(layer.projection)
    assert projection.shape == (m, D)
    for start in range(0, m, D):  # blocks of d rows, the last one shorter
        block = projection[start : start + D]
        gram = block @ block.T
        off_diagonal = gram - np.diag(np.diag(gram))
        assert np.max(np.abs(off_diagonal)) < 1e-5 * np.max(np.diag(gram))
    # Rows from different blocks are generically not orthogonal.
    assert abs(projection[0] @ projection[D]) > 1e-3


def test_favor_plus_redraws_in_training_only():
    x = random((3, 5, D), seed=3)
    layer = FAVORPlus(num_features=8, seed=0)
    layer.build(x.shape)
    initial = to_np(layer.projection)
    draws, outputs = [], []
    for _ in range(2):
        outputs.append(to_np(layer(x, training=True)))
        draws.append(to_np(layer.projection))
    assert not np.allclose(draws[0], initial)
    assert not np.allclose(draws[0], draws[1])
    assert not np.allclose(outputs[0], outputs[1])
    assert_close(outputs[1], reference.favor_plus(x, draws[1], D**-0.25))  # the last draw is kept
    evaluation = [to_np(layer(x, training=False)) for _ in range(2)] + [to_np(layer(x))]
    for out in evaluation:
        np.testing.assert_array_equal(out, evaluation[0])
    np.testing.assert_array_equal(to_np(layer.projection), draws[1])
    assert_close(evaluation[0], reference.favor_plus(x, draws[1], D**-0.25))


def test_favor_plus_without_redraw_keeps_projection():
    x = random((3, 5, D), seed=4)
    layer = FAVORPlus(num_features=8, redraw=False, seed=0)
    layer.build(x.shape)
    initial = to_np(layer.projection)
    outputs = [to_np(layer(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(to_np(layer.projection), initial)
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("orthogonal", [True, False])
def test_favor_plus_seed_reproducible(orthogonal):
    x = random((2, D), seed=5)
    layers = [FAVORPlus(num_features=6, orthogonal=orthogonal, seed=3) for _ in range(2)]
    for layer in layers:
        layer.build(x.shape)
    built = [to_np(layer.projection) for layer in layers]
    np.testing.assert_array_equal(*built)
    outputs = [to_np(layer(x, training=True)) for layer in layers]
    np.testing.assert_array_equal(*(to_np(layer.projection) for layer in layers))
    np.testing.assert_array_equal(*outputs)
    other = FAVORPlus(num_features=6, orthogonal=orthogonal, seed=4)
    other.build(x.shape)
    assert not np.allclose(to_np(other.projection), built[0])


def test_favor_plus_finite_for_large_inputs():
    """exp(R x) alone overflows float32 here; the log-space evaluation stays finite."""
    layer = FAVORPlus(num_features=16, seed=0, input_scale=1.0)
    x = random((64, D), seed=6) * 30.0
    layer.build(x.shape)
    assert np.max(np.abs(x @ to_np(layer.projection).T)) > 89  # exp overflows float32
    y = to_np(layer(x))
    assert np.all(np.isfinite(y)) and np.all(y >= 0)
    moderate = x / 3.0  # large |x| but no float32 underflow of the reference
    assert_close(layer(moderate), reference.favor_plus(moderate, to_np(layer.projection)))


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (feature_maps.sum_normalize, reference.sum_normalize),
        (feature_maps.l2_normalize, reference.l2_normalize),
    ],
)
def test_normalizations(ours, theirs):
    x = np.abs(random((3, 4, 6), seed=7))
    x[0, 0] = 0.0  # the eps floor keeps an all-zero row at zero
    assert_close(ours(x), theirs(x))
    assert_close(ours(x, eps=0.5), theirs(x, eps=0.5))
    assert np.all(to_np(ours(x))[0, 0] == 0.0)


@pytest.mark.parametrize(
    "name, cls, expected",
    [
        ("elu_plus_one", ELUPlusOne, reference.elu_plus_one),
        ("favor_plus", FAVORPlus, None),
        ("dpfp", DPFP, lambda x: reference.dpfp(x, 1)),
        ("tanh", keras.layers.Activation, np.tanh),
        ("identity", keras.layers.Identity, lambda x: x),
    ],
)
def test_get_by_name(name, cls, expected):
    layer = feature_maps.get(name)
    assert isinstance(layer, cls)
    if expected is not None:
        x = random((2, 3, D), seed=8)
        assert_close(layer(x), expected(x))


def test_get_passes_layers_and_configs():
    layer = DPFP(nu=2)
    assert feature_maps.get(layer) is layer
    restored = feature_maps.get(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, DPFP) and restored.nu == 2
    assert feature_maps.get("favor_plus", num_features=5).num_features == 5
    with pytest.raises(ValueError, match="feature_map"):
        feature_maps.get("softmax")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DPFP(nu=0), "nu"),
        (lambda: DPFP(nu=1.5), "nu"),
        (lambda: DPFP(nu=2 * D)(np.ones((2, D), "float32")), "nu"),
        (lambda: FAVORPlus(num_features=0), "num_features"),
        (lambda: FAVORPlus(num_features=True), "num_features"),
    ],
    ids=["dpfp_nu0", "dpfp_float", "dpfp_nu_2d", "favor_m0", "favor_bool"],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_dpfp_largest_nu_builds():
    x = random((2, D), seed=9)
    assert_close(DPFP(nu=2 * D - 1)(x), reference.dpfp(x, 2 * D - 1))


@pytest.mark.parametrize(
    "make",
    [
        ELUPlusOne,
        lambda: DPFP(nu=3),
        lambda: FAVORPlus(num_features=7, orthogonal=False, redraw=False, seed=5),
    ],
    ids=["elu_plus_one", "dpfp", "favor_plus"],
)
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == config
    x = random((2, D), seed=10)  # FAVOR+: the same seed draws the same projection
    np.testing.assert_array_equal(to_np(restored(x)), to_np(layer(x)))
    assert ops.dtype(restored(x)) == "float32"
