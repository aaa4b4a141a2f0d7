"""FastWeightBackbone: the decoder-only fast weight language model that every family configures."""

import keras
from keras import ops

from fwp_keras.layers.fast_weight_decoder_block import FastWeightDecoderBlock
from fwp_keras.zoo.fast_weight.token_and_position_embedding import positions_from_mask
from fwp_keras.zoo.fast_weight.zoo_backbone import ZooBackbone, check_sizes


def fixed_by_family(family, kwargs, fixed):
    """The arguments of `FastWeightBackbone` with those a family fixes (its paper choices);
    passing one of them to the family is an error naming it."""
    for name, value in fixed.items():
        if name in kwargs:
            raise ValueError(
                f"{family} fixes `{name}={value!r}` (use FastWeightBackbone to choose it). "
                f"Received: {name}={kwargs[name]!r}"
            )
    return {**kwargs, **fixed}


MEMORY_ARGUMENTS = ("feature_map", "update_rule", "key_dim", "value_dim", "chunk_size",
                    "implementation")


def record_memory_arguments(backbone, arguments, blocks):
    """Sets a fast weight backbone's memory arguments from its constructor's `locals()` (the
    normalisation as requested, for the config, and as resolved by its decoder `blocks`)."""
    for name in MEMORY_ARGUMENTS:
        setattr(backbone, name, arguments[name])
    backbone.requested_normalization = arguments["normalization"]
    backbone.normalization = blocks[0].attention.normalization
    # The custom ops have no XLA kernels: Keras' jit_compile="auto" must not wrap them.
    backbone.supports_jit = all(block.supports_jit for block in blocks)


def memory_config(backbone):
    return {**{name: getattr(backbone, name) for name in MEMORY_ARGUMENTS},
            "normalization": backbone.requested_normalization}


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightBackbone(ZooBackbone):
    """A stack of pre-layer-norm fast weight decoder blocks (keras-hub `Backbone`).

    token ids -> token embedding (+ position encoding) -> `num_layers` x
    `FastWeightDecoderBlock` -> layer norm -> `sequence_output [B, T, hidden_dim]`.

    Args:
        vocabulary_size: size of the token vocabulary.
        num_layers: number of decoder blocks.
        num_heads: heads of each block's fast weight memory.
        hidden_dim: model width.
        intermediate_dim: feed-forward width.
        feature_map: `"elu_plus_one"`, `"favor_plus"`, `"dpfp"`, `"tanh"`, `"identity"`, or a
            feature-map layer used as a template (each block builds its own copy).
        update_rule: `"sum"`, `"delta"` or `"gated"`.
        normalization: as in `FastWeightAttention` (`"default"` is the paper's choice).
        key_dim: per-head query/key size before the feature map (default
            `hidden_dim // num_heads`).
        value_dim: per-head value size (default `key_dim`).
        dropout: dropout rate of the embeddings and the blocks.
        activation: the feed-forward activation.
        position_encoding: `None` (the memory's order is the only position signal, as in the
            paper's best Delta Net, Table 3), `"sinusoidal"` or `"learned"`.
        max_sequence_length: positions of a learned encoding.
        layer_norm_epsilon: epsilon of every layer norm.
        tie_word_embeddings: the output logits use the transposed token embedding.
        scale_embeddings: token vectors drawn from N(0, 1 / hidden_dim) and multiplied by
            sqrt(hidden_dim) (Vaswani et al. 2017; the default); False: drawn with stddev
            0.02, unscaled (the zoo's first presets).
        chunk_size: as in the memory programs.
        implementation: as in the memory programs.
        dtype: the dtype policy of the model.

    Inputs: `{"token_ids": [B, T] int, "padding_mask": [B, T]}` (keras-hub's names); padded
    positions leave the memories unchanged, wherever they are in the row.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        feature_map="elu_plus_one",
        update_rule="sum",
        normalization="default",
        key_dim=None,
        value_dim=None,
        dropout=0.0,
        activation="gelu",
        position_encoding=None,
        max_sequence_length=None,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        scale_embeddings=True,
        chunk_size=64,
        implementation="auto",
        dtype=None,
        **kwargs,
    ):
        num_layers, num_heads, hidden_dim, intermediate_dim = check_sizes(
            num_layers, num_heads, hidden_dim, intermediate_dim,
            need_divisible="key_dim" if key_dim is None else False,
        )
        if isinstance(feature_map, keras.layers.Layer):
            feature_map = keras.saving.serialize_keras_object(feature_map)
        blocks = [
            FastWeightDecoderBlock(
                num_heads, intermediate_dim, key_dim=key_dim or hidden_dim // num_heads,
                value_dim=value_dim, feature_map=feature_map, update_rule=update_rule,
                normalization=normalization, activation=activation, dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon, chunk_size=chunk_size,
                implementation=implementation, dtype=dtype, name=f"decoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        super().__init__(
            blocks, lambda block, x, padding_mask: block(x, padding_mask=padding_mask),
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
            activation=activation, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
            tie_word_embeddings=tie_word_embeddings, scale_embeddings=scale_embeddings,
            dtype=dtype, **kwargs,
        )
        record_memory_arguments(self, locals(), blocks)

    def state_spec(self, batch_size=None):
        """The per-layer memory states (the generation cache) as `keras.KerasTensor`s: for
        each block `S: [B, H, Dk, Dv]`, or `(S, z)` with `z: [B, H, Dk]` under attention
        normalisation; float32 (float64 for a float64 model)."""
        specs = []
        for block in self.transformer_layers:
            attention = block.attention
            dtype = attention._state_dtype
            shape = (batch_size, attention.num_heads, attention.state_key_dim, attention.value_dim)
            s = keras.KerasTensor(shape, dtype)
            if attention.normalization == "attention":
                specs.append((s, keras.KerasTensor(shape[:3], dtype)))
            else:
                specs.append(s)
        return tuple(specs)

    def memory_statistics(self, inputs):
        """Per block, what its memory writes and reads at every position of
        `{"token_ids", "padding_mask"}` (inference mode): a list of dicts of `[B, T, H]`
        tensors, see `FastWeightAttention.memory_statistics`."""
        padding_mask = ops.cast(inputs["padding_mask"], "bool")
        x = self.embeddings(inputs["token_ids"], positions_from_mask(padding_mask))
        statistics = []
        for block in self.transformer_layers:
            statistics.append(block.attention.memory_statistics(block.attention_norm(x),
                                                                padding_mask=padding_mask))
            x = block(x, padding_mask=padding_mask)
        return statistics

    def get_config(self):
        return {**super().get_config(), **memory_config(self)}
