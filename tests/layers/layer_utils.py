"""Shared helpers of the layer tests: numbers out of Keras, and a float64 NumPy pipeline of
`FastWeightAttention` built from the layer's own weights on top of `tests/reference.py`."""

import os
import sys

import keras
import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:  # conftest.py does this too; harmless if it already has
    sys.path.insert(0, _TESTS)

import reference  # noqa: E402

from fwp_keras.layers import FastWeightAttention, feature_maps  # noqa: E402

TOL = 1e-5  # relative error of float32 results against the float64 reference


B, T, D_MODEL = 2, 10, 6
SEGMENT = 5
# chunk_size=4 < T: several chunks and a zero-padded last one in the chunked forms. (Few
# distinct shapes across the tests: JAX compiles every eager op anew for each shape.)
BASE = dict(
    num_heads=2,
    key_dim=4,
    chunk_size=4,
    bias_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
)


def make_layer(**kwargs):
    """A small FastWeightAttention (BASE) with `kwargs`; a callable feature_map is called."""
    kwargs = {**BASE, **kwargs}
    if callable(kwargs.get("feature_map")):
        kwargs["feature_map"] = kwargs["feature_map"]()
    return FastWeightAttention(**kwargs)


def to_np(x):
    """A backend tensor (or a tuple of them) as float64 NumPy."""
    if isinstance(x, (tuple, list)):
        return tuple(to_np(t) for t in x)
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def rel_err(ref, x):
    ref, x = to_np(ref), to_np(x)
    assert ref.shape == x.shape, (ref.shape, x.shape)
    return np.linalg.norm(ref - x) / max(np.linalg.norm(ref), 1e-300)


def assert_close(x, ref, tol=TOL):
    """`||ref - x|| / ||ref|| <= tol`, for tensors or matching tuples of them."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(x, (tuple, list)) and len(x) == len(ref)
        for a, b in zip(x, ref):
            assert_close(a, b, tol)
        return
    err = rel_err(ref, x)
    assert err <= tol, f"relative error {err:.3g} > {tol:.3g}"


def random(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype("float32")


def numpy_feature_map(layer):
    """The float64 reference of a feature-map layer."""
    if isinstance(layer, feature_maps.ELUPlusOne):
        return reference.elu_plus_one
    if isinstance(layer, feature_maps.DPFP):
        return lambda x: reference.dpfp(x, layer.nu)
    if isinstance(layer, feature_maps.FAVORPlus):
        projection = to_np(layer.projection)
        return lambda x: reference.favor_plus(x, projection, favor_input_scale(layer))
    if isinstance(layer, keras.layers.Identity):
        return lambda x: np.asarray(x, np.float64)
    if isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.tanh:
        return np.tanh
    raise NotImplementedError(type(layer))


def favor_input_scale(layer):
    """The factor FAVORPlus applies to its inputs: d^(-1/4) unless given."""
    if layer.input_scale is not None:
        return layer.input_scale
    return to_np(layer.projection).shape[1] ** -0.25


def numpy_features(layer, q, k):
    """Queries and keys after the layer's feature map and normalisation, in float64.

    For FAVOR+ straight from the log-features, phi / sum(phi) = exp(l - logsumexp(l)) (the
    paper's sum normalisation, which the eps floor of `sum_normalize` would otherwise cut off
    where phi underflows), and with attention normalisation each query divided by its largest
    feature (a factor that cancels in q S / (q . z) but for eps): the layer's definition.
    """
    if isinstance(layer.feature_map, feature_maps.FAVORPlus):
        projection, scale = to_np(layer.feature_map.projection), favor_input_scale(layer.feature_map)
        lq, lk = (reference.favor_plus_log(x, projection, scale) for x in (q, k))

        def shifted(x):
            return np.exp(x - x.max(axis=-1, keepdims=True))

        if layer.normalization == "sum":
            return tuple(shifted(x) / shifted(x).sum(axis=-1, keepdims=True) for x in (lq, lk))
        if layer.normalization == "l2":
            return tuple(reference.l2_normalize(shifted(x), layer.eps) for x in (lq, lk))
        if layer.normalization == "attention":
            return shifted(lq), np.exp(lk)
        return np.exp(lq), np.exp(lk)
    phi = numpy_feature_map(layer.feature_map)
    q, k = phi(q), phi(k)
    normalize = {"sum": reference.sum_normalize, "l2": reference.l2_normalize}.get(
        layer.normalization
    )
    if normalize is not None:
        q, k = normalize(q, layer.eps), normalize(k, layer.eps)
    return q, k


def _dense(layer, x):
    y = np.asarray(x, np.float64) @ to_np(layer.kernel)
    return y + to_np(layer.bias) if layer.use_bias else y


def numpy_attention(layer, query, value=None, padding_mask=None, initial_state=None):
    """`FastWeightAttention` in float64 from the built layer's weights: returns (y, state)."""
    memory = query if value is None else value
    heads, dk, dv = layer.num_heads, layer.key_dim, layer.value_dim

    def split(x, dim):
        return x.reshape(x.shape[0], x.shape[1], heads, dim)

    q, k = numpy_features(layer, split(_dense(layer.query_dense, query), dk),
                          split(_dense(layer.key_dense, memory), dk))
    v = split(_dense(layer.value_dense, memory), dv)
    beta = None
    if layer.update_rule != "sum":
        beta = 1.0 / (1.0 + np.exp(-_dense(layer.beta_dense, memory)))
    if padding_mask is not None:
        keep = np.asarray(padding_mask, bool)
        k, v = np.where(keep[:, :, None, None], k, 0.0), np.where(keep[:, :, None, None], v, 0.0)
        beta = None if beta is None else np.where(keep[:, :, None], beta, 0.0)
    if initial_state is not None:
        initial_state = to_np(initial_state)
    attention = layer.normalization == "attention"
    if layer.update_rule == "sum":
        o, state = reference.linear_attention(
            q, k, v, causal=layer.causal, normalize=attention,
            initial_state=initial_state, eps=layer.eps,
        )
    elif layer.update_rule == "delta":
        o, state = reference.delta_rule(
            q, k, v, beta, normalize=attention, initial_state=initial_state, eps=layer.eps
        )
    else:
        o, state = reference.gated_rule(q, k, v, beta, initial_state=initial_state)
    y = _dense(layer.output_dense, o.reshape(o.shape[0], o.shape[1], heads * dv))
    return y, state
