"""Feature maps phi (paper Section 5) and the key/query normalisations (Eq. 29).

Each feature map is a Keras layer acting on the last axis: `[..., d] -> [..., D]`.
`get()` resolves a name, a config dict or a layer instance.
"""

import math

import keras
from keras import ops

# Feature maps run in float32 at least (exp and products overflow float16), float64 stays.
from fwp_keras.ops._common import compute_dtype as _float_dtype


@keras.saving.register_keras_serializable(package="fwp_keras")
class ELUPlusOne(keras.layers.Layer):
    """`phi(x) = elu(x) + 1`, the Linear Transformer's feature map (Eq. 30); D = d."""

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

    def __init__(self, nu=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(nu, int) or isinstance(nu, bool) or nu < 1:
            raise ValueError(f"`nu` must be a positive integer. Received: nu={nu!r}")
        self.nu = nu

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

    `phi(x) = exp(-|x|^2 / 2) / sqrt(2m) * [exp(R x), exp(-R x)]` with `R: [m, d]`, evaluated as
    `exp(+-R x - |x|^2 / 2 - log(2m) / 2)` so that `exp(R x)` never overflows on its own.

    `R` is redrawn on every training call (and kept, so the model saved last uses the last
    draw) and fixed at inference; the draws are reproducible from `seed`.

    Args:
        num_features: m, the number of random features (>= 1).
        orthogonal: draw R with orthogonal rows (blocks of a random orthogonal matrix, rows
            rescaled to chi-distributed norms), as the Performer recommends.
        redraw: redraw R on every training call.
        seed: integer seed of the draws.
    """

    def __init__(self, num_features=64, orthogonal=True, redraw=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(
                f"`num_features` must be an integer >= 1. Received: num_features={num_features!r}"
            )
        self.num_features = num_features
        self.orthogonal = orthogonal
        self.redraw = redraw
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.projection = self.add_weight(
            name="projection",
            shape=(self.num_features, input_shape[-1]),
            initializer="zeros",
            trainable=False,
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

    def call(self, x, training=None):
        if training and self.redraw:
            projection = self.draw_projection()
            self.projection.assign(projection)
        else:
            projection = self.projection
        x = ops.cast(x, _float_dtype(x))
        projected = ops.einsum("...d,md->...m", x, ops.cast(projection, x.dtype))
        offset = ops.sum(x * x, axis=-1, keepdims=True) / 2 + math.log(2 * self.num_features) / 2
        return ops.concatenate(
            [ops.exp(projected - offset), ops.exp(-projected - offset)], axis=-1
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * self.num_features,)

    def get_config(self):
        return {
            **super().get_config(),
            "num_features": self.num_features,
            "orthogonal": self.orthogonal,
            "redraw": self.redraw,
            "seed": self.seed,
        }


FEATURE_MAPS = {
    "elu_plus_one": ELUPlusOne,
    "favor_plus": FAVORPlus,
    "dpfp": DPFP,
    "tanh": lambda **kwargs: keras.layers.Activation("tanh", **kwargs),
    "identity": keras.layers.Identity,
}
NON_NEGATIVE = ("elu_plus_one", "favor_plus", "dpfp")


def get(identifier, **kwargs):
    """A feature-map layer from a name in `FEATURE_MAPS` (built with `kwargs`), a serialized
    config, or a layer (returned as it is)."""
    if isinstance(identifier, keras.layers.Layer):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if identifier not in FEATURE_MAPS:
        raise ValueError(
            f"`feature_map` must be one of {sorted(FEATURE_MAPS)} or a Keras layer. "
            f"Received: feature_map={identifier!r}"
        )
    return FEATURE_MAPS[identifier](**kwargs)


def sum_normalize(x, eps=1e-6):
    """`x / sum_j x_j` over the last axis (Eq. 29), for non-negative feature maps."""
    return x / ops.maximum(ops.sum(x, axis=-1, keepdims=True), eps)


def l2_normalize(x, eps=1e-6):
    """`x / ||x||_2` over the last axis."""
    return x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), eps)
