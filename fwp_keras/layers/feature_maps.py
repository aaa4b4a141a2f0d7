"""Feature maps phi (paper Section 5) and the key/query normalisations (Eq. 29).

Each feature map is a Keras layer acting on the last axis: `[..., d] -> [..., D]`.
`get()` resolves a name, a config dict or a layer instance.
"""

import math

import keras
import numpy as np
from keras import ops

from fwp_keras import _validation as validation

# Feature maps run in float32 at least (exp and products overflow float16), float64 stays.
from fwp_keras.ops._common import compute_dtype as _float_dtype


@keras.saving.register_keras_serializable(package="fwp_keras")
class ELUPlusOne(keras.layers.Layer):
    """`phi(x) = elu(x) + 1`, the Linear Transformer's feature map (Eq. 30); D = d."""

    non_negative = True  # what the sum and attention normalisations need

    def call(self, x):
        x = ops.cast(x, _float_dtype(x))
        return ops.elu(x) + 1

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fwp_keras")
class DPFP(keras.layers.Layer):
    """Deterministic parameter-free projection, DPFP-nu (Eq. 37); D = 2 * nu * d.

    `x' = [relu(x), relu(-x)]`, `phi(x) = concat_{j=1..nu} x' * roll(x', j)`.

    Args:
        nu: number of rolled copies, an integer in 1 .. 2d - 1.
    """

    non_negative = True

    def __init__(self, nu=1, **kwargs):
        super().__init__(**kwargs)
        self.nu = validation.positive_integer("nu", nu)

    def build(self, input_shape):
        d = input_shape[-1]
        if d is not None and self.nu > 2 * d - 1:
            raise ValueError(
                f"`nu` must be in 1 .. 2d - 1 = {2 * d - 1} for inputs of dimension d = {d}. "
                f"Received: nu={self.nu}"
            )

    def call(self, x):
        x = ops.cast(x, _float_dtype(x))
        x = ops.concatenate([ops.relu(x), ops.relu(-x)], axis=-1)
        return ops.concatenate(
            [x * ops.roll(x, shift=j, axis=-1) for j in range(1, self.nu + 1)], axis=-1
        )

    def compute_output_shape(self, input_shape):
        d = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if d is None else 2 * self.nu * d,)

    def get_config(self):
        return {**super().get_config(), "nu": self.nu}


@keras.saving.register_keras_serializable(package="fwp_keras")
class FAVORPlus(keras.layers.Layer):
    """FAVOR+ positive random features of the Performer (Eq. 31-32); D = 2 * num_features.

    `phi(x) = exp(-|x'|^2 / 2) / sqrt(2m) * [exp(R x'), exp(-R x')]` with `R: [m, d]` and
    `x' = input_scale * x`, so that `phi(x) . phi(y)` estimates `exp(input_scale^2 x . y)`.
    The default `input_scale = d^(-1/4)` is the Performer's: the estimate is then the kernel of
    scaled dot-product attention, `exp(x . y / sqrt(d))`, whose features stay well inside float32
    for inputs of unit variance; `input_scale=1.0` is Eq. 31 as written.

    The features are evaluated in log space (`log_features`): `exp(R x')` never overflows on its
    own, and `FastWeightAttention` normalises them without leaving it (sum normalisation is a
    softmax over the 2m log-features), so its output does not depend on the `exp(-|x'|^2 / 2)`
    scale, which underflows float32 for large inputs.

    `R` is redrawn on every training call (and kept, so the model saved last uses the last
    draw) unless `redraw=False` is passed to the call, and fixed at inference; `FastWeightAttention`
    keeps it while a state is carried (a call with `initial_state`), so that a memory is written
    and read with one `R`. The draws are reproducible from `seed`. `R` is a float32 variable (float64
    for a float64 layer) whatever the layer's dtype: QR has no half-precision kernels.

    Args:
        num_features: m, the number of random features (>= 1).
        orthogonal: draw R with orthogonal rows (blocks of a random orthogonal matrix, rows
            rescaled to chi-distributed norms), as the Performer recommends.
        redraw: redraw R on every training call.
        seed: integer seed of the draws, or None.
        input_scale: the factor applied to inputs, a positive number; None for `d^(-1/4)`.
    """

    non_negative = True

    def __init__(self, num_features=64, orthogonal=True, redraw=True, seed=None,
                 input_scale=None, **kwargs):
        super().__init__(**kwargs)
        self.num_features = validation.positive_integer("num_features", num_features)
        self.orthogonal = validation.boolean("orthogonal", orthogonal)
        self.redraw = validation.boolean("redraw", redraw)
        self.seed = validation.integer("seed", seed, allow_none=True)
        if input_scale is not None:
            input_scale = validation.non_negative_number("input_scale", input_scale, positive=True)
        self.input_scale = input_scale
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    @property
    def input_dim(self):
        """d, the input dimension the projection was drawn for (None before `build`)."""
        return self.projection.shape[1] if self.built else None

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise ValueError(
                "FAVORPlus needs a known input dimension d (the last axis) to draw its "
                f"projection. Received: input_shape={tuple(input_shape)}"
            )
        projection_dtype = "float64" if self.variable_dtype == "float64" else "float32"
        self.projection = self.add_weight(
            name="projection",
            shape=(self.num_features, d),
            initializer="zeros",
            trainable=False,
            dtype=projection_dtype,
            autocast=False,  # read in full precision under a mixed policy too
        )
        self.projection.assign(self.draw_projection())

    def draw_projection(self):
        """A fresh `R: [m, d]` from the layer's seed generator."""
        m, d = self.projection.shape
        dtype = self.projection.dtype
        if not self.orthogonal:
            return keras.random.normal((m, d), dtype=dtype, seed=self.seed_generator)
        blocks = []
        for _ in range(math.ceil(m / d)):
            gaussian = keras.random.normal((d, d), dtype=dtype, seed=self.seed_generator)
            orthonormal, _ = ops.qr(gaussian)
            blocks.append(ops.transpose(orthonormal))
        rows = ops.concatenate(blocks, axis=0)[:m]
        # Norms of Gaussian vectors, so each row is marginally N(0, I) as in Eq. 31.
        norms = ops.norm(
            keras.random.normal((m, d), dtype=dtype, seed=self.seed_generator), axis=-1
        )
        return rows * norms[:, None]

    def call(self, x, training=None, redraw=True, log=False):
        """`phi(x)`, or `log phi(x)` with `log=True`; `redraw=False` keeps R in training."""
        if x.shape[-1] is not None and x.shape[-1] != self.input_dim:
            raise ValueError(
                f"This FAVORPlus layer drew its projection for inputs of dimension "
                f"{self.input_dim}. Received: inputs of shape {tuple(x.shape)}"
            )
        if training and self.redraw and redraw:
            projection = self.draw_projection()
            self.projection.assign(projection)
        else:
            projection = self.projection
        x = ops.cast(x, _float_dtype(x))
        scale = self.input_dim ** -0.25 if self.input_scale is None else self.input_scale
        x = x * scale
        projected = ops.einsum("...d,md->...m", x, ops.cast(projection, x.dtype))
        offset = ops.sum(x * x, axis=-1, keepdims=True) / 2 + math.log(2 * self.num_features) / 2
        log_phi = ops.concatenate([projected - offset, -projected - offset], axis=-1)
        return log_phi if log else ops.exp(log_phi)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * self.num_features,)

    def get_config(self):
        return {
            **super().get_config(),
            "num_features": self.num_features,
            "orthogonal": self.orthogonal,
            "redraw": self.redraw,
            "seed": self.seed,
            "input_scale": self.input_scale,
        }


FEATURE_MAPS = {
    "elu_plus_one": ELUPlusOne,
    "favor_plus": FAVORPlus,
    "dpfp": DPFP,
    "tanh": lambda **kwargs: keras.layers.Activation("tanh", **kwargs),
    "identity": keras.layers.Identity,
}


def get(identifier, **kwargs):
    """A feature-map layer from a name in `FEATURE_MAPS` (built with `kwargs`), a serialized
    config, or a layer (returned as it is)."""
    if isinstance(identifier, keras.layers.Layer):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, str) or identifier not in FEATURE_MAPS:
        raise ValueError(
            f"`feature_map` must be one of {sorted(FEATURE_MAPS)} or a Keras layer. "
            f"Received: feature_map={identifier!r}"
        )
    return FEATURE_MAPS[identifier](**kwargs)


def is_non_negative(layer, input_shape):
    """Whether a feature map's outputs are >= 0, which sum and attention normalisation need.

    A layer says so with a `non_negative` attribute (the maps of this module do); any other
    layer (`keras.layers.Activation("tanh")`, a map of yours) is tried once on random inputs of
    `input_shape` at three scales. Layers that cannot run eagerly here count as non-negative.
    """
    declared = getattr(layer, "non_negative", None)
    if declared is not None:
        return bool(declared)
    rng = np.random.default_rng(0)
    probes = [rng.standard_normal(input_shape) * scale for scale in (0.1, 1.0, 10.0)]
    try:
        minima = [float(ops.convert_to_numpy(ops.min(layer(p.astype("float32")))))
                  for p in probes]
    except Exception as error:
        if _inside_tf_graph():  # no values to look at
            return True
        raise ValueError(
            f"`feature_map` must map inputs of shape [..., {input_shape[-1]}] (key_dim). "
            f"Calling {type(layer).__name__} on them failed: {error}"
        ) from error
    return min(minima) >= 0


def _inside_tf_graph():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.executing_eagerly()


def normalize_log_features(log_q, log_k, normalization, eps=1e-6):
    """Queries and keys from their log-features (FAVOR+), normalised without leaving log space.

    - `"sum"`: `phi / sum(phi)` is a softmax over the log-features: exact at any scale.
    - `"l2"`: `phi / ||phi||` of `exp(log phi - max)`: exact, the shift cancels.
    - `"attention"`: queries as `exp(log phi - max)`, a per-query factor that cancels in
      `q S / (q . z)` (only `eps` then counts relative to the query's largest feature); keys
      exactly, since the per-key factor weighs each key in the memory.
    - `None`: both exactly.
    """
    if normalization == "sum":
        return ops.softmax(log_q, axis=-1), ops.softmax(log_k, axis=-1)
    if normalization == "l2":
        return tuple(l2_normalize(_shifted_exp(x), eps) for x in (log_q, log_k))
    if normalization == "attention":
        return _shifted_exp(log_q), ops.exp(log_k)
    return ops.exp(log_q), ops.exp(log_k)


def _shifted_exp(log_x):
    return ops.exp(log_x - ops.max(log_x, axis=-1, keepdims=True))


def sum_normalize(x, eps=1e-6):
    """`x / sum_j x_j` over the last axis (Eq. 29), for non-negative feature maps."""
    eps = validation.non_negative_number("eps", eps)
    return x / ops.maximum(ops.sum(x, axis=-1, keepdims=True), eps)


def l2_normalize(x, eps=1e-6):
    """`x / ||x||_2` over the last axis."""
    eps = validation.non_negative_number("eps", eps)
    return x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), eps)
