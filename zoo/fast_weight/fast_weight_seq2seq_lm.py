"""FastWeightSeq2SeqLM: a fast weight translation model whose generation cache has a constant size."""

import keras
from keras import ops

from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_backbone import FastWeightSeq2SeqBackbone
from fwp_keras.zoo.fast_weight.fast_weight_seq2seq_lm_preprocessor import (
    FastWeightSeq2SeqLMPreprocessor,
)
from fwp_keras.zoo.fast_weight.ragged_generation import generate_ragged
from fwp_keras.zoo.fast_weight.token_and_position_embedding import positions_from_mask
from fwp_keras.zoo.fast_weight.zoo_seq2seq_lm import ZooSeq2SeqLM


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightSeq2SeqLM(ZooSeq2SeqLM):
    """Translation on a `FastWeightSeq2SeqBackbone` (keras-hub `Seq2SeqLM`, BART's pattern).

    `fit` on `{"encoder_text", "decoder_text"}` (through the preprocessor) or on token ids;
    `generate` as in keras-hub, with any sampler (beam search included).

    Generation does O(1) work per new token whatever the source and target lengths: the
    encoder runs once and leaves, per decoder block, the cross-attention memory
    `sum_s phi(k_s)^T v_s` (and its normaliser); the cache is those memories, the decoder's
    self-attention states and each row's next position, all batch first, so beam search
    expands them. Decoder prompts of different lengths are prefilled each to its own length
    (`ragged_generation`), so each row translates as it would alone.
    """

    backbone_cls = FastWeightSeq2SeqBackbone
    preprocessor_cls = FastWeightSeq2SeqLMPreprocessor

    def encoder_memory(self, encoder_token_ids, encoder_padding_mask):
        """Runs the encoder and returns, per decoder block, the memory its cross-attention reads
        (constant size: `S [B, H, Dk, Dv]`, or `(S, z)`)."""
        padding_mask = ops.cast(encoder_padding_mask, "bool")
        encoded = self.call_encoder(encoder_token_ids, padding_mask)
        return tuple(block.cross_attention.write_memory(encoded, padding_mask)
                     for block in self.backbone.decoder_layers)

    def call_decoder_with_cache(self, decoder_token_ids, cache, padding_mask=None):
        """Runs `decoder_token_ids [B, T]` on top of `cache`.

        `cache = {"cross_memory": per-block encoder memories (`encoder_memory`), "memory":
        per-block decoder states or None (empty), "positions": [B] int32 or None}`. With `T == 1`
        the blocks take the one-step forms. Returns `(logits [B, T, V], hidden [B, T, hidden],
        new_cache)`.
        """
        batch = ops.shape(decoder_token_ids)[0]
        memory = cache.get("memory") or (None,) * self.backbone.num_layers
        start = cache.get("positions")
        start = ops.zeros((batch,), "int32") if start is None else start
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(decoder_token_ids), "bool")
        positions = start[:, None] + positions_from_mask(padding_mask)
        x = self.backbone.embeddings(decoder_token_ids, positions)
        states = []
        for block, state, cross in zip(self.backbone.decoder_layers, memory,
                                       cache["cross_memory"]):
            x, state = block(x, padding_mask=padding_mask, initial_state=state,
                             return_state=True, cross_memory=cross)
            states.append(state)
        hidden = self.backbone.decoder_layer_norm(x)
        written = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        new_cache = {"cross_memory": cache["cross_memory"], "memory": tuple(states),
                     "positions": start + written}
        return self.backbone.embeddings.logits(hidden), hidden, new_cache

    def _build_cache(self, encoder_token_ids, encoder_padding_mask, decoder_token_ids,
                     decoder_padding_mask):
        """The encoder pass and its memories, then the decoder prompts' prefill in one pass."""
        cross_memory = self.encoder_memory(encoder_token_ids, encoder_padding_mask)
        _, hidden, cache = self.call_decoder_with_cache(
            decoder_token_ids, {"cross_memory": cross_memory}, decoder_padding_mask)
        return hidden, cache

    def generate_step(self, inputs, stop_token_ids=None):
        """One batch of translation: keras-hub's seq2seq inputs in, `{"decoder_token_ids",
        "decoder_padding_mask"}` out (each row's prompt and translation at its start)."""
        def prefill(token_ids, write_mask):
            return self._build_cache(inputs["encoder_token_ids"], inputs["encoder_padding_mask"],
                                     token_ids, write_mask)

        token_ids, padding_mask = generate_ragged(
            self, inputs["decoder_token_ids"], inputs["decoder_padding_mask"], prefill,
            self.call_decoder_with_cache, stop_token_ids)
        return {"decoder_token_ids": token_ids, "decoder_padding_mask": padding_mask}
