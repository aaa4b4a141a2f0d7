"""TransformerCausalLM: the softmax baseline with keras-hub's key/value cache."""

import keras
from keras import ops

from fwp_keras.zoo.fast_weight.zoo_causal_lm import ZooCausalLM, through_first_stop
from fwp_keras.zoo.transformer.transformer_backbone import TransformerBackbone
from fwp_keras.zoo.transformer.transformer_causal_lm_preprocessor import (
    TransformerCausalLMPreprocessor,
)


@keras.saving.register_keras_serializable(package="fwp_keras")
class TransformerCausalLM(ZooCausalLM):
    """Next-token prediction on a `TransformerBackbone`, generating as keras-hub's
    `GPT2CausalLM` does: a key/value cache of the whole width `[B, layers, 2, width, H, d]`,
    seeded by one forward pass, then one token per step (work and memory per token grow with
    the context: the yardstick of the fast weight models' constant-size state)."""

    backbone_cls = TransformerBackbone
    preprocessor_cls = TransformerCausalLMPreprocessor

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """`token_ids [B, T]` written at `cache_update_index` of the key/value `cache`;
        returns `(logits, hidden, cache)`."""
        self._check_sequences(token_ids)
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        positions = ops.broadcast_to(
            cache_update_index + ops.arange(length, dtype="int32")[None, :], (batch, length)
        )
        x = self.backbone.embeddings(token_ids, positions)
        caches = []
        for i, layer in enumerate(self.backbone.transformer_layers):
            x, layer_cache = layer(
                x, self_attention_cache=cache[:, i],
                self_attention_cache_update_index=cache_update_index,
            )
            caches.append(layer_cache)
        hidden = self.backbone.layer_norm(x)
        return self.backbone.embeddings.logits(hidden), hidden, ops.stack(caches, axis=1)

    def _build_cache(self, token_ids):
        backbone = self.backbone
        batch, width = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        head_dim = backbone.hidden_dim // backbone.num_heads
        cache = ops.zeros(
            (batch, backbone.num_layers, 2, width, backbone.num_heads, head_dim),
            dtype=self.compute_dtype,
        )
        _, hidden, cache = self.call_with_cache(token_ids, cache, 0)
        return hidden, cache

    def generate_step(self, inputs, stop_token_ids=None):
        """keras-hub's cached generation (as `GPT2CausalLM.generate_step`): decoding starts
        at the shortest prompt's end, longer prompts keep their own tokens."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        padding_mask = ops.cast(inputs["padding_mask"], "bool")
        hidden, cache = self._build_cache(token_ids)
        index = ops.min(ops.sum(ops.cast(padding_mask, "int32"), axis=-1))

        def next(prompt, cache, index):
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, hidden, cache = self.call_with_cache(token, cache, index - 1)
            logits = self.sampling_logits(ops.squeeze(logits, axis=1), prompt, index,
                                          padding_mask, stop_token_ids)
            return logits, ops.squeeze(hidden, axis=1), cache

        token_ids = self.sampler(
            next=next, prompt=token_ids, cache=cache, index=index, mask=padding_mask,
            stop_token_ids=stop_token_ids, hidden_states=hidden, model=self,
        )
        if stop_token_ids is None:
            return {"token_ids": token_ids, "padding_mask": ops.ones_like(padding_mask)}
        return {"token_ids": token_ids, "padding_mask": through_first_stop(
            token_ids, stop_token_ids, ops.logical_not(padding_mask))}
