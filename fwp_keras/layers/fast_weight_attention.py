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

from fwp_keras import _validation as validation
from fwp_keras import ops as memory_ops
from fwp_keras.layers import feature_maps
from fwp_keras.ops import _common as memory_common
from fwp_keras.ops import diagnostics as memory_diagnostics

UPDATE_RULES = ("sum", "delta", "gated")
NORMALIZATIONS = ("sum", "attention", "l2", None)
# The paper's defaults: the Linear Transformer (sum rule) normalises attention; the delta rule
# (and the gated baseline) sum-normalise keys and queries.
DEFAULT_NORMALIZATION = {"sum": "attention", "delta": "sum", "gated": "sum"}


def convert_sequences(layer, sequences):
    """What Keras does to every argument of a call (arrays to tensors, floats cast to the
    compute dtype), for the sequences only: layers that carry a state turn it off for the rest
    (`_convert_input_args = False`), so a float32 state is not rounded to 16 bits."""
    return tuple(None if x is None else layer.dtype_policy.convert_input(
        x, layer.autocast, layer.input_dtype) for x in sequences)


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
            `"default"` takes the paper's choice: for a non-negative feature map `"attention"`
            with the sum rule (Linear Transformer) and `"sum"` otherwise (Delta Net); for a
            signed one (`"tanh"`, `"identity"`, a layer with negative outputs) `None`, the
            Schlag (2021) baseline. `"sum"` and `"attention"` divide by sums of features and
            need a non-negative map: with a signed one they are an error (use `"l2"` or `None`).
        causal: autoregressive (`True`) or bidirectional (`False`, sum rule only).
        output_dim: size of the output projection (default: the query's last dimension).
        use_bias: biases in the projections.
        chunk_size: rows per chunk of the memory op's chunked form (see `fwp_keras.ops`).
        implementation: the memory op's form: `"auto"`, `"op"`, `"chunked"` or `"recurrent"`.
        eps: the memory op's epsilon in normalisations.
        kernel_initializer: initializer of the projections' kernels.
        bias_initializer: initializer of the projections' biases.

    Call arguments:
        query: `[B, T, d_model]`.
        value: `[B, S, d_memory]` to attend to another sequence (cross-attention; `causal=False`).
            Defaults to `query` (self-attention).
        padding_mask: `[B, S]` booleans, `False` where the memory sequence is padding: those
            positions neither write to nor change the memory (they are replaced, not multiplied,
            by zeros: a NaN there stays there). Defaults to the Keras mask of the memory
            sequence: that of `value` in cross-attention, of `query` in self-attention.
        initial_state: fast weights to start from: `S: [B, H, Dk, Dv]`, or `(S, z)` with
            attention normalisation; e.g. the final state of the previous text segment. FAVOR+
            keeps its projection while a state is carried (it redraws only in training calls
            without one), so a memory is written and read with the same features. One token
            (a static time length of 1) on an `initial_state` runs the one-step forms: constant
            work per decoded token.
        return_state: also return the final state (always float32).
        training: redraws FAVOR+ features when `True` (and no `initial_state` is given).

    Cross-attention decoding: `write_memory(value)` computes the memory a whole sequence leaves
    once (constant size), `read_memory(query, memory)` reads it at every step.
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
        self.num_heads = validation.positive_integer("num_heads", num_heads)
        self.key_dim = validation.positive_integer("key_dim", key_dim)
        self.value_dim = (validation.positive_integer("value_dim", value_dim, allow_none=True)
                          or self.key_dim)
        self.output_dim = validation.positive_integer("output_dim", output_dim, allow_none=True)
        self.update_rule = validation.one_of("update_rule", update_rule, UPDATE_RULES)
        self.causal = validation.boolean("causal", causal)
        self.use_bias = validation.boolean("use_bias", use_bias)
        self.chunk_size = memory_common.check_implementation(
            implementation, chunk_size, has_op=self.update_rule != "gated"
        )
        self.implementation = implementation
        self.eps = memory_common.check_eps(eps)
        if normalization != "default":
            validation.one_of("normalization", normalization, NORMALIZATIONS + ("default",))
        if not self.causal and update_rule != "sum":
            raise ValueError(
                f"`causal=False` (bidirectional) needs update_rule='sum'; the {update_rule} rule "
                "is a recurrence over time. Received: "
                f"update_rule={update_rule!r}, causal=False"
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # A named feature map computes in the variable dtype (float32 under mixed precision).
        self.feature_map = feature_maps.get(
            feature_map, dtype=self.dtype_policy.variable_dtype, name="feature_map"
        )
        self._build_feature_map()
        self.normalization = self._resolve_normalization(normalization, feature_map)
        self.supports_masking = True
        # Keras would cast every float argument to the compute dtype, the carried state too:
        # under mixed precision that rounds the fast weights to 16 bits at every decoded token.
        # Only the sequences are converted (`__call__`), the state stays float32.
        self._convert_input_args = False
        # The TensorFlow custom ops have no XLA kernels: keep Keras from jit-compiling around them.
        if self.causal and update_rule != "gated":
            if implementation == "op" or (
                implementation == "auto" and memory_common.custom_ops_usable()
            ):
                self.supports_jit = False

    def _build_feature_map(self):
        """Builds the feature map for `[B, T, H, key_dim]` here, so that a bad map or `nu` is an
        error at construction; a map built before must have been built for `key_dim`."""
        fm = self.feature_map
        if isinstance(fm, feature_maps.FAVORPlus) and fm.built and fm.input_dim != self.key_dim:
            raise ValueError(
                f"`feature_map` is a FAVORPlus built for inputs of dimension {fm.input_dim}; "
                f"it must be built for key_dim={self.key_dim} (or not built yet)."
            )
        if not fm.built:  # a deserialized feature map arrives built
            fm.build((None, None, self.num_heads, self.key_dim))

    def _resolve_normalization(self, normalization, feature_map):
        described = (f"feature_map={feature_map!r}" if isinstance(feature_map, str)
                     else f"the feature_map {type(self.feature_map).__name__}")
        non_negative = feature_maps.is_non_negative(
            self.feature_map, (2, 8, self.num_heads, self.key_dim)
        )
        defaulted = normalization == "default"
        if defaulted:
            normalization = DEFAULT_NORMALIZATION[self.update_rule] if non_negative else None
        elif normalization in ("sum", "attention") and not non_negative:
            divisor = ("the sum of the features (Eq. 29)" if normalization == "sum"
                       else "q . z, the sum of query-key products (Eq. 19)")
            raise ValueError(
                f"`normalization={normalization!r}` divides by {divisor}, which needs a "
                f"non-negative feature map, but {described} takes negative values. Use "
                "normalization=None (the Schlag 2021 baseline) or 'l2', or a non-negative map "
                "(set `non_negative = True` on a layer of yours that is)."
            )
        if self.update_rule == "gated" and normalization == "attention":
            raise ValueError(
                "`normalization='attention'` is defined for the sum and delta rules only. "
                "Received: update_rule='gated'"
            )
        if self.update_rule == "delta" and normalization is None:
            why = (f" (normalization='default' is None for {described}, which is signed)"
                   if defaulted else "")
            warnings.warn(
                "The delta rule is stable only with normalised keys: with normalization=None "
                f"its memory can grow without bound{why}. Use normalization='sum' (the paper's, "
                "for non-negative feature maps) or 'l2'.",
                stacklevel=3,
            )
        return normalization

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
        query_mask=None,
        value_mask=None,
    ):
        # Keras fills `mask` when `query` is the only tensor argument, and `query_mask` /
        # `value_mask` when there are more (as for keras.layers.MultiHeadAttention).
        cross = value is not None
        if cross and self.causal:
            raise ValueError(
                "Cross-attention (a `value` sequence) reads the whole memory sequence; "
                "construct the layer with causal=False."
            )
        memory = value if cross else query
        self._check_rank("query", query)
        if cross:
            self._check_rank("value", value)
        if padding_mask is None:
            padding_mask = value_mask if cross else (query_mask if query_mask is not None
                                                     else mask)
        padding_mask = self._check_padding_mask(padding_mask, memory)
        q, k, v, beta = self._program(query, memory, padding_mask, training,
                                      redraw=initial_state is None)
        output, state = self._memory(q, k, v, beta, initial_state)
        output = self._merge_heads(output)
        return (output, state) if return_state else output

    def _program(self, query, memory, padding_mask, training, redraw):
        """The slow weights' program: `q, k [B, T, H, Dk]` (features), `v [B, T, H, Dv]` and
        `beta [B, T, H]` (None for the sum rule), padded positions zeroed."""
        q = self._split_heads(self.query_dense(query), self.key_dim)
        k = self._split_heads(self.key_dense(memory), self.key_dim)
        v = self._split_heads(self.value_dense(memory), self.value_dim)
        q, k = self._features(q, k, training, redraw=redraw)
        v = ops.cast(v, q.dtype)

        beta = None
        if self.update_rule != "sum":
            beta = ops.cast(ops.sigmoid(self.beta_dense(memory)), q.dtype)
        if padding_mask is not None:
            # Selection, not multiplication: whatever a padded position holds (NaN too) is gone.
            keep = padding_mask[:, :, None, None]
            k = ops.where(keep, k, 0)
            v = ops.where(keep, v, 0)
            if beta is not None:
                beta = ops.where(keep[..., 0], beta, 0)
        return q, k, v, beta

    def write_memory(self, value, padding_mask=None):
        """The memory a whole sequence `value [B, S, d]` leaves for cross-attention
        (`causal=False` layers): `S = sum_t phi(k_t)^T v_t` (and `z = sum_t phi(k_t)` under
        attention normalisation), float32, the same size whatever `S`. Computed once (an
        encoder's output, before decoding); `read_memory` reads it. Evaluation features: FAVOR+
        uses its fixed projection, as `call` does outside training."""
        if self.causal:
            raise ValueError("write_memory is the bidirectional / cross-attention memory; this "
                             "layer was constructed with causal=True.")
        self._check_rank("value", value)
        padding_mask = self._check_padding_mask(padding_mask, value)
        (value,) = convert_sequences(self, [value])
        _, k, v, _ = self._program(value, value, padding_mask, training=False, redraw=False)
        return memory_ops.linear_attention_memory(
            k, v, normalize=self.normalization == "attention")

    def read_memory(self, query, memory):
        """`query [B, T, d_model]` read from a `memory` of `write_memory`: the output of
        `call(query, value)` in evaluation, without the value sequence."""
        self._check_rank("query", query)
        (query,) = convert_sequences(self, [query])
        q = self._split_heads(self.query_dense(query), self.key_dim)
        q, _ = self._features(q, q, training=False, redraw=False)
        output = memory_ops.linear_attention_read(
            q, memory, normalize=self.normalization == "attention", eps=self.eps)
        return self._merge_heads(output)

    def _merge_heads(self, output):
        """`[B, T, H, Dv]` memory reads -> the output projection `[B, T, output_dim]`."""
        shape = ops.shape(output)
        output = ops.reshape(output, (shape[0], shape[1], self.num_heads * self.value_dim))
        return self.output_dense(ops.cast(output, self.compute_dtype))

    def memory_statistics(self, query, padding_mask=None):
        """What the memory writes and reads at every step of the causal self-attention over
        `query [B, T, features]`: a dict of `[B, T, H]` float32 tensors (value, retrieved
        and update norms, the fast weights' norm, and `z . q` under attention
        normalisation; see `fwp_keras.ops.diagnostics`). Evaluation mode (no redraw)."""
        if not self.causal:
            raise ValueError("memory_statistics follows a causal memory's steps; this layer "
                             "was constructed with causal=False.")
        self._check_rank("query", query)
        padding_mask = self._check_padding_mask(padding_mask, query)
        q, k, v, beta = self._program(query, query, padding_mask, training=False, redraw=False)
        return memory_diagnostics.memory_statistics(
            q, k, v, beta, update_rule=self.update_rule,
            normalize=self.normalization == "attention", eps=self.eps)

    def __call__(self, *args, **kwargs):
        if kwargs.get("value") is not None:
            kwargs["value"] = convert_sequences(self, [kwargs["value"]])[0]
        return super().__call__(*convert_sequences(self, args), **kwargs)

    @staticmethod
    def _check_rank(name, x):
        if len(x.shape) != 3:
            raise ValueError(
                f"`{name}` must have rank 3, [batch, time, features]. "
                f"Received: {name}.shape={tuple(x.shape)}"
            )

    @staticmethod
    def _check_padding_mask(padding_mask, memory):
        if padding_mask is None:
            return None
        padding_mask = memory_common.as_tensor("padding_mask", padding_mask)
        expected = tuple(memory.shape[:2])
        got = tuple(padding_mask.shape)
        if not memory_common.dims_match(got, expected):
            raise ValueError(
                "`padding_mask` must have shape [batch, memory length] = "
                f"{expected} (that of the memory sequence, `value` or `query`). "
                f"Received: padding_mask.shape={got}"
            )
        return ops.cast(padding_mask, "bool")

    def _features(self, q, k, training, redraw):
        """phi and the normalisation of queries and keys, in one call of the feature map (FAVOR+
        draws one R for both); FAVOR+ is normalised from its log-features (see
        `feature_maps.normalize_log_features`)."""
        query_length = ops.shape(q)[1]
        both = ops.concatenate([q, k], axis=1)
        if isinstance(self.feature_map, feature_maps.FAVORPlus):
            logs = self.feature_map(both, training=training, redraw=redraw, log=True)
            return feature_maps.normalize_log_features(
                logs[:, :query_length], logs[:, query_length:], self.normalization, self.eps
            )
        features = self._normalize(self.feature_map(both, training=training))
        return features[:, :query_length], features[:, query_length:]

    def _normalize(self, features):
        if self.normalization == "sum":
            return feature_maps.sum_normalize(features, self.eps)
        if self.normalization == "l2":
            return feature_maps.l2_normalize(features, self.eps)
        return features

    def _memory(self, q, k, v, beta, initial_state):
        if initial_state is not None and self.causal and q.shape[1] == 1:
            return self._memory_step(q, k, v, beta, initial_state)
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

    def _memory_step(self, q, k, v, beta, state):
        """One token on a carried state (decoding): the one-step forms, constant work whatever
        the context length; the same function as the sequence forms on a length-1 sequence."""
        q, k, v = q[:, 0], k[:, 0], v[:, 0]
        beta = None if beta is None else beta[:, 0]
        normalize = self.normalization == "attention"
        if self.update_rule == "sum":
            o, state = memory_ops.linear_attention_step(q, k, v, state, normalize=normalize,
                                                        eps=self.eps)
        elif self.update_rule == "delta":
            o, state = memory_ops.delta_rule_step(q, k, v, beta, state, normalize=normalize,
                                                  eps=self.eps)
        else:
            o, state = memory_ops.gated_rule_step(q, k, v, beta, state)
        return o[:, None], state

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

    def compute_mask(self, query, value=None, padding_mask=None, mask=None, query_mask=None,
                     **kwargs):
        return query_mask if query_mask is not None else mask

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
