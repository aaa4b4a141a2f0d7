"""FastWeightAttention: a multi-head fast weight programmer as a Keras layer.

The slow weights (projections) program the fast weights (the memory S) at every step:
    q, k, v, beta = W_q x, W_k x, W_v x, sigmoid(W_beta x)       (per head)
    q, k = normalize(phi(q)), normalize(phi(k))                   (feature map, Eq. 29-37)
    o = memory program(q, k, v, beta)                             (sum / delta / gated rule)
    y = W_o o
"""

import warnings

import keras
from keras import ops

from fwp_keras import ops as memory_ops
from fwp_keras.layers import feature_maps
from fwp_keras.ops import _common as memory_common

UPDATE_RULES = ("sum", "delta", "gated")
NORMALIZATIONS = ("sum", "attention", "l2", None)
# The paper's defaults: the Linear Transformer (sum rule) normalises attention; the delta rule
# (and the gated baseline) sum-normalise keys and queries.
DEFAULT_NORMALIZATION = {"sum": "attention", "delta": "sum", "gated": "sum"}


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightAttention(keras.layers.Layer):
    """Multi-head fast weight attention (linear attention, Delta Net and their variants).

    Args:
        num_heads: number of heads H.
        key_dim: per-head size of the query/key projections, before the feature map.
        value_dim: per-head size of the value projection (default `key_dim`).
        feature_map: `"elu_plus_one"`, `"favor_plus"`, `"dpfp"`, `"tanh"`, `"identity"`, or a
            Keras layer mapping `[..., key_dim] -> [..., Dk]` (applied to queries and keys alike).
        update_rule: `"sum"` (Linear Transformer), `"delta"` (Delta Net) or `"gated"` (Peng et al.).
        normalization: `"sum"` (Eq. 29), `"attention"` (the normaliser z), `"l2"`, or `None`;
            `"default"` takes the paper's choice: `"attention"` for the sum rule, `"sum"` otherwise.
        causal: autoregressive (`True`) or bidirectional (`False`, sum rule only).
        output_dim: size of the output projection (default: the query's last dimension).
        use_bias: biases in the projections.
        chunk_size, implementation, eps: passed to the memory op (see `fwp_keras.ops`).
        kernel_initializer, bias_initializer: initializers of the projections.

    Call arguments:
        query: `[B, T, d_model]`.
        value: `[B, S, d_memory]` to attend to another sequence (cross-attention; `causal=False`).
            Defaults to `query` (self-attention).
        padding_mask: `[B, S]` booleans, `False` where the memory sequence is padding: those
            positions neither write to nor change the memory. Defaults to the Keras mask of
            `query` in self-attention.
        initial_state: fast weights to start from: `S: [B, H, Dk, Dv]`, or `(S, z)` with
            attention normalisation; e.g. the final state of the previous text segment.
        return_state: also return the final state (always float32).
        training: redraws FAVOR+ features when `True`.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        feature_map="elu_plus_one",
        update_rule="sum",
        normalization="default",
        causal=True,
        output_dim=None,
        use_bias=True,
        chunk_size=64,
        implementation="auto",
        eps=1e-6,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        value_dim = key_dim if value_dim is None else value_dim
        sizes = {"num_heads": num_heads, "key_dim": key_dim, "value_dim": value_dim}
        for name, value in sizes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if update_rule not in UPDATE_RULES:
            raise ValueError(
                f"`update_rule` must be one of {UPDATE_RULES}. Received: update_rule={update_rule!r}"
            )
        if normalization == "default":
            normalization = DEFAULT_NORMALIZATION[update_rule]
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {NORMALIZATIONS} or 'default'. "
                f"Received: normalization={normalization!r}"
            )
        if update_rule == "gated" and normalization == "attention":
            raise ValueError(
                "`normalization='attention'` is defined for the sum and delta rules only. "
                "Received: update_rule='gated'"
            )
        if not causal and update_rule != "sum":
            raise ValueError(
                f"`causal=False` (bidirectional) needs update_rule='sum'; the {update_rule} rule "
                "is a recurrence over time. Received: "
                f"update_rule={update_rule!r}, causal=False"
            )
        if normalization == "sum" and feature_map in ("tanh", "identity"):
            raise ValueError(
                "`normalization='sum'` divides by the sum of the features and needs a "
                f"non-negative feature map {feature_maps.NON_NEGATIVE}. "
                f"Received: feature_map={feature_map!r}"
            )
        if update_rule == "delta" and normalization is None:
            warnings.warn(
                "The delta rule is stable only with normalised keys; use normalization='sum' "
                "(the paper's) or 'l2'.",
                stacklevel=2,
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.update_rule = update_rule
        self.normalization = normalization
        self.causal = causal
        self.output_dim = output_dim
        self.use_bias = use_bias
        self.chunk_size = chunk_size
        self.implementation = implementation
        self.eps = eps
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # A named feature map computes in the variable dtype (float32 under mixed precision).
        self.feature_map = feature_maps.get(
            feature_map, dtype=self.dtype_policy.variable_dtype, name="feature_map"
        )
        self.supports_masking = True
        # The TensorFlow custom ops have no XLA kernels: keep Keras from jit-compiling around them.
        if causal and update_rule != "gated":
            if implementation == "op" or (
                implementation == "auto" and memory_common.custom_ops_usable()
            ):
                self.supports_jit = False

    def _dense(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        heads = self.num_heads
        self.query_dense = self._dense(heads * self.key_dim, "query")
        self.key_dense = self._dense(heads * self.key_dim, "key")
        self.value_dense = self._dense(heads * self.value_dim, "value")
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        if self.update_rule != "sum":
            self.beta_dense = self._dense(heads, "beta")
            self.beta_dense.build(value_shape)
        if not self.feature_map.built:  # a deserialized feature map arrives built
            self.feature_map.build((None, None, heads, self.key_dim))
        self.output_dense = self._dense(self.output_dim or query_shape[-1], "output")
        self.output_dense.build(tuple(query_shape[:-1]) + (heads * self.value_dim,))

    @property
    def state_key_dim(self):
        """Dk, the key size of the fast weights after the feature map."""
        return self.feature_map.compute_output_shape((None, None, self.num_heads, self.key_dim))[-1]

    def _split_heads(self, x, dim):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], self.num_heads, dim))

    def call(
        self,
        query,
        value=None,
        padding_mask=None,
        initial_state=None,
        return_state=False,
        training=None,
        mask=None,
    ):
        cross = value is not None
        if cross and self.causal:
            raise ValueError(
                "Cross-attention (a `value` sequence) reads the whole memory sequence; "
                "construct the layer with causal=False."
            )
        memory = value if cross else query
        if padding_mask is None and not cross:
            padding_mask = mask
        q = self._split_heads(self.query_dense(query), self.key_dim)
        k = self._split_heads(self.key_dense(memory), self.key_dim)
        v = self._split_heads(self.value_dense(memory), self.value_dim)

        # One call of the feature map for queries and keys: FAVOR+ draws one R for both.
        query_length = ops.shape(q)[1]
        features = self.feature_map(ops.concatenate([q, k], axis=1), training=training)
        features = self._normalize(features)
        q, k = features[:, :query_length], features[:, query_length:]
        v = ops.cast(v, q.dtype)

        beta = None
        if self.update_rule != "sum":
            beta = ops.cast(ops.sigmoid(self.beta_dense(memory)), q.dtype)
        if padding_mask is not None:
            keep = ops.cast(padding_mask, q.dtype)
            k = k * keep[:, :, None, None]
            v = v * keep[:, :, None, None]
            if beta is not None:
                beta = beta * keep[:, :, None]

        output, state = self._memory(q, k, v, beta, initial_state)
        output = ops.reshape(
            output, (ops.shape(output)[0], ops.shape(output)[1], self.num_heads * self.value_dim)
        )
        output = self.output_dense(ops.cast(output, self.compute_dtype))
        return (output, state) if return_state else output

    def _normalize(self, features):
        if self.normalization == "sum":
            return feature_maps.sum_normalize(features, self.eps)
        if self.normalization == "l2":
            return feature_maps.l2_normalize(features, self.eps)
        return features

    def _memory(self, q, k, v, beta, initial_state):
        options = dict(
            initial_state=initial_state,
            return_state=True,
            implementation=self.implementation,
            chunk_size=self.chunk_size,
        )
        normalize = self.normalization == "attention"
        if self.update_rule == "sum":
            return memory_ops.linear_attention(
                q, k, v, causal=self.causal, normalize=normalize, eps=self.eps, **options
            )
        if self.update_rule == "delta":
            return memory_ops.delta_rule(
                q, k, v, beta, normalize=normalize, eps=self.eps, **options
            )
        return memory_ops.gated_rule(q, k, v, beta, **options)

    def compute_output_shape(self, query_shape, value_shape=None):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def compute_output_spec(self, query, value=None, return_state=False, **kwargs):
        output = keras.KerasTensor(self.compute_output_shape(query.shape), self.compute_dtype)
        if not return_state:
            return output
        batch, heads, dtype = query.shape[0], self.num_heads, self._state_dtype
        s = keras.KerasTensor((batch, heads, self.state_key_dim, self.value_dim), dtype)
        if self.normalization == "attention":
            return output, (s, keras.KerasTensor((batch, heads, self.state_key_dim), dtype))
        return output, s

    @property
    def _state_dtype(self):
        return "float64" if self.compute_dtype == "float64" else "float32"

    def compute_mask(self, query, value=None, padding_mask=None, mask=None, **kwargs):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "feature_map": keras.saving.serialize_keras_object(self.feature_map),
            "update_rule": self.update_rule,
            "normalization": self.normalization,
            "causal": self.causal,
            "output_dim": self.output_dim,
            "use_bias": self.use_bias,
            "chunk_size": self.chunk_size,
            "implementation": self.implementation,
            "eps": self.eps,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
