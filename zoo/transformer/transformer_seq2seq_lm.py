"""TransformerSeq2SeqLM: the softmax translation baseline with keras-hub's key/value caches."""

import keras
from keras import ops

from fwp_keras.zoo.fast_weight.zoo_causal_lm import through_first_stop
from fwp_keras.zoo.fast_weight.zoo_seq2seq_lm import ZooSeq2SeqLM
from fwp_keras.zoo.transformer.transformer_seq2seq_backbone import TransformerSeq2SeqBackbone
from fwp_keras.zoo.transformer.transformer_seq2seq_lm_preprocessor import (
    TransformerSeq2SeqLMPreprocessor,
)


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerSeq2SeqLM(ZooSeq2SeqLM):
    """Translation on a `TransformerSeq2SeqBackbone`, generating as keras-hub's
    `BartSeq2SeqLM` does: a self-attention key/value cache of the whole target width and a
    cross-attention cache of the whole source (`[B, layers, 2, length, H, d]` each), computed
    by one prefill; every cache leaf, the encoder outputs and mask included, is batch first so
    beam search expands it. Work and memory per token grow with both lengths: the yardstick of
    the fast weight models' constant-size cache."""

    backbone_cls = TransformerSeq2SeqBackbone
    preprocessor_cls = TransformerSeq2SeqLMPreprocessor

    def call_decoder_with_cache(self, encoder_output, encoder_padding_mask, decoder_token_ids,
                                self_attention_cache, self_attention_cache_update_index,
                                cross_attention_cache, cross_attention_cache_update_index=None):
        """BART's signature: `(logits, hidden, self_attention_cache, cross_attention_cache)`;
        `cross_attention_cache_update_index=0` computes the cross cache, `None` reuses it."""
        batch, length = ops.shape(decoder_token_ids)[0], ops.shape(decoder_token_ids)[1]
        positions = ops.broadcast_to(
            self_attention_cache_update_index + ops.arange(length, dtype="int32")[None, :],
            (batch, length))
        x = self.backbone.embeddings(decoder_token_ids, positions)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.backbone.decoder_layers):
            x, self_cache, cross_cache = layer(
                decoder_sequence=x, encoder_sequence=encoder_output,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_attention_cache[:, i],
                self_attention_cache_update_index=self_attention_cache_update_index,
                cross_attention_cache=cross_attention_cache[:, i],
                cross_attention_cache_update_index=cross_attention_cache_update_index,
            )
            self_caches.append(self_cache)
            cross_caches.append(cross_cache)
        if cross_attention_cache_update_index is not None:
            cross_attention_cache = ops.stack(cross_caches, axis=1)
        hidden = self.backbone.decoder_layer_norm(x)
        return (self.backbone.embeddings.logits(hidden), hidden,
                ops.stack(self_caches, axis=1), cross_attention_cache)

    def _build_cache(self, encoder_token_ids, encoder_padding_mask, decoder_token_ids):
        backbone = self.backbone
        encoder_padding_mask = ops.cast(encoder_padding_mask, "bool")
        encoder_output = self.call_encoder(encoder_token_ids, encoder_padding_mask)
        batch = ops.shape(encoder_token_ids)[0]
        head_dim = backbone.hidden_dim // backbone.num_heads

        def zeros(length):
            return ops.zeros((batch, backbone.num_layers, 2, length, backbone.num_heads,
                              head_dim), dtype=self.compute_dtype)

        _, hidden, self_cache, cross_cache = self.call_decoder_with_cache(
            encoder_output, encoder_padding_mask, decoder_token_ids,
            zeros(ops.shape(decoder_token_ids)[1]), 0,
            zeros(ops.shape(encoder_token_ids)[1]), 0)
        return hidden, (self_cache, encoder_output, encoder_padding_mask, cross_cache)

    def generate_step(self, inputs, stop_token_ids=None):
        """keras-hub's cached seq2seq generation (as `BartSeq2SeqLM.generate_step`):
        decoding starts at the shortest decoder prompt's end, longer prompts keep their own
        tokens."""
        decoder_token_ids = ops.cast(inputs["decoder_token_ids"], "int32")
        decoder_padding_mask = ops.cast(inputs["decoder_padding_mask"], "bool")
        hidden, cache = self._build_cache(inputs["encoder_token_ids"],
                                          inputs["encoder_padding_mask"], decoder_token_ids)
        index = ops.min(ops.sum(ops.cast(decoder_padding_mask, "int32"), axis=-1))

        def next(prompt, cache, index):
            self_cache, encoder_output, encoder_padding_mask, cross_cache = cache
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, hidden, self_cache, _ = self.call_decoder_with_cache(
                encoder_output, encoder_padding_mask, token, self_cache, index - 1, cross_cache)
            logits = self.sampling_logits(ops.squeeze(logits, axis=1), prompt, index,
                                          decoder_padding_mask, stop_token_ids)
            return (logits, ops.squeeze(hidden, axis=1),
                    (self_cache, encoder_output, encoder_padding_mask, cross_cache))

        decoder_token_ids = self.sampler(
            next=next, prompt=decoder_token_ids, cache=cache, index=index,
            mask=decoder_padding_mask, stop_token_ids=stop_token_ids, hidden_states=hidden,
            model=self,
        )
        if stop_token_ids is None:
            mask = ops.ones_like(decoder_padding_mask)
        else:
            mask = through_first_stop(decoder_token_ids, stop_token_ids,
                                      ops.logical_not(decoder_padding_mask))
        return {"decoder_token_ids": decoder_token_ids, "decoder_padding_mask": mask}
