"""FastWeightCausalLM: a fast weight language model with the memory state as the generation cache."""

import keras
from keras import ops

from fwp_keras.zoo.fast_weight.fast_weight_backbone import FastWeightBackbone
from fwp_keras.zoo.fast_weight.fast_weight_causal_lm_preprocessor import (
    FastWeightCausalLMPreprocessor,
)
from fwp_keras.zoo.fast_weight.ragged_generation import generate_ragged
from fwp_keras.zoo.fast_weight.token_and_position_embedding import positions_from_mask
from fwp_keras.zoo.fast_weight.zoo_causal_lm import ZooCausalLM


@keras.saving.register_keras_serializable(package="fwp_keras")
class FastWeightCausalLM(ZooCausalLM):
    """Next-token prediction on a `FastWeightBackbone` (keras-hub `CausalLM`).

    `fit` on strings (through the preprocessor) or on `({"token_ids", "padding_mask"}, labels,
    sample_weight)`; `generate` as in keras-hub, with any sampler.

    Generation keeps O(1) work and memory per new token: the cache is the memories' state, one
    per layer (`S`, or `(S, z)` with attention normalisation, batch first so beam search can
    expand it), plus each row's next position. `generate_step` (`ragged_generation`) prefills
    each row's prompt but its last token in one masked chunked pass (the custom op on
    TensorFlow), then decodes with the one-step forms from the shortest prompt's end; every
    row is filled up to the width, as keras-hub's models fill it, with the tokens that prompt
    alone would get.
    """

    backbone_cls = FastWeightBackbone
    preprocessor_cls = FastWeightCausalLMPreprocessor

    def call_with_cache(self, token_ids, cache, padding_mask=None):
        """Runs `token_ids [B, T]` on top of `cache` (None for empty memories).

        `cache = {"positions": [B] int32, "memory": per-layer states}`: the position of each
        row's next real token, and the fast weights. With `T == 1` the blocks take the
        one-step forms. Returns `(logits [B, T, V], hidden [B, T, hidden_dim], new_cache)`.
        """
        hidden, cache = self._run_with_cache(token_ids, cache, padding_mask)
        return self.backbone.embeddings.logits(hidden), hidden, cache

    def _run_with_cache(self, token_ids, cache, padding_mask):
        self._check_sequences(token_ids, padding_mask)
        batch = ops.shape(token_ids)[0]
        if cache is None:
            memory = (None,) * self.backbone.num_layers
            start = ops.zeros((batch,), "int32")
        else:
            self._check_cache_structure(
                cache, {"positions": keras.KerasTensor((token_ids.shape[0],), "int32"),
                        "memory": self.backbone.state_spec(token_ids.shape[0])},
            )
            memory, start = cache["memory"], cache["positions"]
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(token_ids), "bool")
        positions = start[:, None] + positions_from_mask(padding_mask)
        x = self.backbone.embeddings(token_ids, positions)
        states = []
        for block, state in zip(self.backbone.transformer_layers, memory):
            x, state = block(x, padding_mask=padding_mask, initial_state=state,
                             return_state=True)
            states.append(state)
        hidden = self.backbone.layer_norm(x)
        written = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        return hidden, {"positions": start + written, "memory": tuple(states)}

    def _build_cache(self, token_ids, padding_mask):
        """The prefill: one pass of the whole block of prompts (the chunked form, or the op),
        without the logits (`[B, width, vocabulary]`, unused)."""
        return self._run_with_cache(token_ids, None, padding_mask)

    def generate_step(self, inputs, stop_token_ids=None):
        """One batch of generation: `{"token_ids", "padding_mask"}` in keras-hub's layout
        (prompt at the start of each row, `padding_mask` true on it), the same structure out."""
        token_ids, padding_mask = generate_ragged(
            self, inputs["token_ids"], inputs["padding_mask"], self._build_cache,
            self.call_with_cache, stop_token_ids)
        return {"token_ids": token_ids, "padding_mask": padding_mask}
