"""FastWeightSeq2SeqBackbone: the fast weight encoder-decoder that every family configures."""

import keras
from keras import ops

from fwp_keras.layers.fast_weight_decoder_block import FastWeightDecoderBlock
from fwp_keras.layers.fast_weight_encoder_block import FastWeightEncoderBlock
from fwp_keras.zoo.fast_weight.fast_weight_backbone import memory_config, record_memory_arguments
from fwp_keras.zoo.fast_weight.token_and_position_embedding import positions_from_mask
from fwp_keras.zoo.fast_weight.zoo_backbone import check_sizes
from fwp_keras.zoo.fast_weight.zoo_seq2seq_backbone import ZooSeq2SeqBackbone


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightSeq2SeqBackbone(ZooSeq2SeqBackbone):
    """A fast weight encoder-decoder (keras-hub `Backbone`, as `BartBackbone`).

    source ids -> embedding + positions -> `num_layers` x `FastWeightEncoderBlock`
    (bidirectional linear attention) -> layer norm -> encoder outputs;
    target ids -> the same embedding -> `num_layers` x `FastWeightDecoderBlock` (causal fast
    weight memory, then linear cross-attention over the encoder outputs) -> layer norm.

    The feature map is that of every attention; `update_rule` and `normalization` are those
    of the decoder's self-attention (its memory); the encoder and the cross-attention use the
    sum rule with its default normalisation (attention normalisation for a non-negative map).

    Args:
        vocabulary_size: the joint source-target vocabulary.
        num_layers: blocks of the encoder, and of the decoder.
        num_heads: as `FastWeightBackbone`.
        hidden_dim: as `FastWeightBackbone`.
        intermediate_dim: as `FastWeightBackbone`.
        feature_map: as `FastWeightBackbone`.
        update_rule: as `FastWeightBackbone` (the decoder's self-attention).
        normalization: as `FastWeightBackbone` (the decoder's self-attention).
        key_dim: as `FastWeightBackbone`.
        value_dim: as `FastWeightBackbone`.
        dropout: as `FastWeightBackbone`.
        activation: as `FastWeightBackbone`.
        layer_norm_epsilon: as `FastWeightBackbone`.
        tie_word_embeddings: as `FastWeightBackbone`.
        scale_embeddings: as `FastWeightBackbone`.
        chunk_size: as `FastWeightBackbone`.
        implementation: as `FastWeightBackbone`.
        dtype: as `FastWeightBackbone`.
        position_encoding: `"sinusoidal"` (default; a bidirectional linear attention has no
            order of its own), `"learned"` or `None`.
        max_sequence_length: positions of a learned encoding.

    Inputs: `{"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
    "decoder_padding_mask"}`; outputs `{"encoder_sequence_output", "decoder_sequence_output"}`.
    Padded source positions write nothing to any memory, so a sentence encodes the same in
    any batch.
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
        position_encoding="sinusoidal",
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
        common = dict(
            key_dim=key_dim or hidden_dim // num_heads, value_dim=value_dim,
            feature_map=feature_map, activation=activation, dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon, chunk_size=chunk_size,
            implementation=implementation, dtype=dtype,
        )
        encoder_blocks = [
            FastWeightEncoderBlock(num_heads, intermediate_dim, name=f"encoder_block_{i}",
                                   **common)
            for i in range(num_layers)
        ]
        decoder_blocks = [
            FastWeightDecoderBlock(num_heads, intermediate_dim, update_rule=update_rule,
                                   normalization=normalization, cross_attention=True,
                                   name=f"decoder_block_{i}", **common)
            for i in range(num_layers)
        ]
        super().__init__(
            encoder_blocks, decoder_blocks,
            lambda block, x, mask: block(x, padding_mask=mask),
            lambda block, y, mask, encoder_output, encoder_mask: block(
                y, padding_mask=mask, encoder_sequence=encoder_output,
                encoder_padding_mask=encoder_mask),
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
            activation=activation, position_encoding=position_encoding,
            max_sequence_length=max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
            tie_word_embeddings=tie_word_embeddings, scale_embeddings=scale_embeddings,
            dtype=dtype, **kwargs,
        )
        record_memory_arguments(self, locals(), decoder_blocks)

    def memory_statistics(self, inputs):
        """Per decoder block, what its self-attention memory writes and reads at every target
        position of the seq2seq `inputs` (inference): a list of dicts of `[B, T, H]` tensors,
        see `FastWeightAttention.memory_statistics`."""
        encoder_mask = ops.cast(inputs["encoder_padding_mask"], "bool")
        padding_mask = ops.cast(inputs["decoder_padding_mask"], "bool")
        encoded = self.encode(inputs["encoder_token_ids"], encoder_mask)
        y = self.embeddings(inputs["decoder_token_ids"], positions_from_mask(padding_mask))
        statistics = []
        for block in self.decoder_layers:
            statistics.append(block.attention.memory_statistics(block.attention_norm(y),
                                                                padding_mask=padding_mask))
            y = block(y, padding_mask=padding_mask, encoder_sequence=encoded,
                      encoder_padding_mask=encoder_mask)
        return statistics

    def get_config(self):
        return {**super().get_config(), **memory_config(self)}
