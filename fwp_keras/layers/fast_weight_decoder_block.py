"""FastWeightDecoderBlock: a pre-layer-norm decoder block around a fast weight memory.

    x = x + dropout(FastWeightAttention(layer_norm(x)))       causal, state in and out
    x = x + dropout(CrossAttention(layer_norm(x), encoder))   with cross_attention=True
    x = x + dropout(W_2 dropout(activation(W_1 layer_norm(x))))

Cross-attention is linear attention over the encoder's outputs (the sum rule, bidirectional):
the encoder leaves one memory `sum_s phi(k_s)^T v_s` per block, the same size whatever the
source length, which decoding reads at every step (`cross_memory`).

The softmax baseline of the same shape is keras-hub's `TransformerDecoder(normalize_first=True)`
(`fwp_keras.zoo.TransformerBackbone`).
"""

import keras

from fwp_keras import _validation as validation
from fwp_keras.layers.fast_weight_attention import FastWeightAttention, convert_sequences


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightDecoderBlock(keras.layers.Layer):
    """One decoder block of a fast weight language model.

    Args:
        num_heads: heads of the fast weight memory.
        intermediate_dim: width of the feed-forward layer.
        key_dim: per-head query/key size before the feature map (default `hidden / num_heads`).
        value_dim: per-head value size (default `key_dim`).
        feature_map: that of `FastWeightAttention`.
        update_rule: that of `FastWeightAttention`.
        normalization: that of `FastWeightAttention`.
        chunk_size: that of `FastWeightAttention`.
        implementation: that of `FastWeightAttention`.
        eps: that of `FastWeightAttention`.
        activation: the feed-forward activation (any Keras activation).
        dropout: dropout rate after the attention, inside and after the feed-forward.
        layer_norm_epsilon: epsilon of the two layer norms.
        kernel_initializer: initializer of every projection.
        cross_attention: add a cross-attention sub-block over an encoder's outputs (an
            encoder-decoder model), with the same feature map, the sum rule and its default
            normalisation (attention normalisation for a non-negative map).

    Call arguments:
        inputs: `[B, T, hidden]`.
        padding_mask: `[B, T]` booleans, `False` at padding: those positions do not touch the
            memory (identity updates), whatever they hold.
        initial_state: the memory's state to continue from (`S`, or `(S, z)` with attention
            normalisation), e.g. that of the previous segment or of the prompt.
        return_state: also return the memory's final state.
        encoder_sequence: `[B, S, hidden]`, the encoder's outputs (with `cross_attention`).
        encoder_padding_mask: `[B, S]` booleans, `False` at the encoder's padding.
        cross_memory: instead of `encoder_sequence`, the memory it leaves,
            `block.cross_attention.write_memory(encoder_sequence, encoder_padding_mask)`
            (decoding computes it once).
    """

    causal = True  # the encoder block (FastWeightEncoderBlock) is this block, bidirectional

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        value_dim=None,
        feature_map="elu_plus_one",
        update_rule="sum",
        normalization="default",
        activation="gelu",
        dropout=0.0,
        layer_norm_epsilon=1e-5,
        chunk_size=64,
        implementation="auto",
        eps=1e-6,
        kernel_initializer="glorot_uniform",
        cross_attention=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.has_cross_attention = validation.boolean("cross_attention", cross_attention)
        self.num_heads = validation.positive_integer("num_heads", num_heads)
        self.intermediate_dim = validation.positive_integer("intermediate_dim", intermediate_dim)
        self.key_dim = validation.positive_integer("key_dim", key_dim, allow_none=True)
        self.value_dim = validation.positive_integer("value_dim", value_dim, allow_none=True)
        self.dropout = validation.non_negative_number("dropout", dropout)
        if self.dropout >= 1:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        self.layer_norm_epsilon = validation.non_negative_number(
            "layer_norm_epsilon", layer_norm_epsilon, positive=True
        )
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if isinstance(feature_map, keras.layers.Layer):
            # A template: every block (and every reload) builds its own copy of the map.
            feature_map = keras.saving.serialize_keras_object(feature_map)
        self.attention_options = dict(
            feature_map=feature_map, update_rule=update_rule, normalization=normalization,
            chunk_size=chunk_size, implementation=implementation, eps=eps,
        )
        self.supports_masking = True
        # As in FastWeightAttention: the carried state is not cast to the compute dtype.
        self._convert_input_args = False
        if self.key_dim is not None:
            self._make_attention(self.key_dim)

    def _make_attention(self, key_dim):
        self.attention = FastWeightAttention(
            self.num_heads, key_dim, value_dim=self.value_dim, causal=self.causal,
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
            name="attention", **self.attention_options,
        )
        self.supports_jit = self.attention.supports_jit
        if self.has_cross_attention:
            options = dict(self.attention_options, update_rule="sum", normalization="default")
            self.cross_attention = FastWeightAttention(
                self.num_heads, key_dim, value_dim=self.value_dim, causal=False,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                name="cross_attention", **options,
            )

    def build(self, input_shape):
        hidden = input_shape[-1]
        if self.key_dim is None:
            if hidden % self.num_heads:
                raise ValueError(
                    f"The input width {hidden} is not divisible by num_heads={self.num_heads}; "
                    "pass key_dim explicitly."
                )
            self._make_attention(hidden // self.num_heads)

        def layer_norm(name):
            norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )
            norm.build(input_shape)
            return norm

        def dense(units, name, activation=None):
            return keras.layers.Dense(units, activation=activation,
                                      kernel_initializer=self.kernel_initializer,
                                      dtype=self.dtype_policy, name=name)

        self.attention_norm = layer_norm("attention_norm")
        self.attention.build(input_shape)
        if self.has_cross_attention:
            self.cross_attention_norm = layer_norm("cross_attention_norm")
            self.cross_attention.build(input_shape, input_shape)
        self.feedforward_norm = layer_norm("feedforward_norm")
        self.feedforward_intermediate = dense(self.intermediate_dim, "feedforward_intermediate",
                                              self.activation)
        self.feedforward_intermediate.build(input_shape)
        self.feedforward_output = dense(hidden, "feedforward_output")
        self.feedforward_output.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def __call__(self, *args, **kwargs):
        return super().__call__(*convert_sequences(self, args), **kwargs)

    @property
    def state_key_dim(self):
        return self.attention.state_key_dim

    def call(self, inputs, padding_mask=None, initial_state=None, return_state=False,
             encoder_sequence=None, encoder_padding_mask=None, cross_memory=None,
             training=None, mask=None):
        if padding_mask is None:
            padding_mask = mask
        attended, state = self.attention(
            self.attention_norm(inputs), padding_mask=padding_mask, initial_state=initial_state,
            return_state=True, training=training,
        )
        x = inputs + self.dropout_layer(attended, training=training)
        if self.has_cross_attention:
            x = x + self.dropout_layer(self._cross_attend(
                x, encoder_sequence, encoder_padding_mask, cross_memory, training),
                training=training)
        elif encoder_sequence is not None or cross_memory is not None:
            raise ValueError("This block has no cross-attention (construct it with "
                             "cross_attention=True to attend to an encoder's outputs).")
        hidden = self.feedforward_intermediate(self.feedforward_norm(x))
        hidden = self.dropout_layer(hidden, training=training)
        x = x + self.dropout_layer(self.feedforward_output(hidden), training=training)
        return (x, state) if return_state else x

    def _cross_attend(self, x, encoder_sequence, encoder_padding_mask, cross_memory, training):
        if (encoder_sequence is None) == (cross_memory is None):
            raise ValueError("A block with cross-attention takes exactly one of "
                             "`encoder_sequence` (the encoder's outputs) and `cross_memory` "
                             "(the memory they leave, from `cross_attention.write_memory`).")
        query = self.cross_attention_norm(x)
        if cross_memory is not None:
            return self.cross_attention.read_memory(query, cross_memory)
        return self.cross_attention(query, value=encoder_sequence,
                                    padding_mask=encoder_padding_mask, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, return_state=False, **kwargs):
        output = keras.KerasTensor(inputs.shape, self.compute_dtype)
        if not return_state:
            return output
        return output, self.attention.compute_output_spec(inputs, return_state=True)[1]

    def compute_mask(self, inputs, mask=None, **kwargs):
        return mask

    def get_config(self):
        attention = self.attention_options
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "feature_map": attention["feature_map"],
            "update_rule": attention["update_rule"],
            "normalization": attention["normalization"],
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "chunk_size": attention["chunk_size"],
            "implementation": attention["implementation"],
            "eps": attention["eps"],
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "cross_attention": self.has_cross_attention,
        }
