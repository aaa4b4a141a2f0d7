"""ZooSeq2SeqLM: what every zoo translation model shares on top of keras-hub's `Seq2SeqLM`:
the functional forward pass (source and target ids -> target logits), the encoder pass, and
the checks of what users pass to `generate`. Its subclasses supply the cache and
`generate_step`."""

import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf  # keras-hub's preprocessing runs on tf.data whatever the backend

from fwp_keras import _validation as validation
from fwp_keras.zoo.fast_weight.zoo_causal_lm import (
    _check_vocabulary,
    check_integer_inputs,
    check_stop_token_ids,
    text_prompts,
)
from fwp_keras.zoo.fast_weight.generalized_generate_function import GeneralizedGenerateFunction
from fwp_keras.zoo.fast_weight.suppressed_tokens import SuppressesTokens
from fwp_keras.zoo.jax_state import KeepsJaxStateOnError
from fwp_keras.zoo.presets import NamedPresets

INPUT_KEYS = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
              "decoder_padding_mask")


class ZooSeq2SeqLM(SuppressesTokens, GeneralizedGenerateFunction, KeepsJaxStateOnError,
                   NamedPresets, keras_hub.models.Seq2SeqLM):
    """Base of `FastWeightSeq2SeqLM` and `TransformerSeq2SeqLM`; see them."""

    def __init__(self, backbone, preprocessor=None, **kwargs):
        if preprocessor is not None:
            _check_vocabulary(backbone, preprocessor)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # === Functional model ===
        inputs = backbone.input
        hidden = backbone(inputs)["decoder_sequence_output"]
        outputs = backbone.embeddings.logits(hidden)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def call_encoder(self, token_ids, padding_mask):
        """The encoder's outputs `[B, S, hidden_dim]` for source ids `[B, S]` (inference)."""
        return self.backbone.encode(token_ids, padding_mask)

    def call(self, inputs, training=None, mask=None, **kwargs):
        check_integer_inputs(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False,
                 suppressed_token_ids="auto"):
        """keras-hub's `generate`: source strings (or `{"encoder_text", "decoder_text"}`) with
        a preprocessor, else the dict of `INPUT_KEYS` (each decoder prompt, e.g. the start
        token, at the start of its row). A source longer than the preprocessor's
        `encoder_sequence_length` is truncated, with a warning saying how many were.
        `suppressed_token_ids`: ids never sampled (`"auto"`: padding and `<unk>`; `()`:
        none)."""
        self.set_suppressed_token_ids(suppressed_token_ids)
        check_stop_token_ids(stop_token_ids, self.backbone.vocabulary_size)
        if max_length is not None and validation.positive_integer("max_length", max_length) < 2:
            raise ValueError("`max_length` must be >= 2: the start token and at least one "
                             f"generated token. Received: max_length={max_length}")
        if isinstance(inputs, tf.data.Dataset):
            return super().generate(inputs, max_length, stop_token_ids, strip_prompt)
        if self.preprocessor is None:
            self._check_token_inputs(inputs)
        else:
            self._check_text_inputs(inputs)
        return super().generate(inputs, max_length=max_length, stop_token_ids=stop_token_ids,
                                strip_prompt=strip_prompt)

    def _check_token_inputs(self, inputs):
        if not isinstance(inputs, dict) or set(inputs) != set(INPUT_KEYS):
            raise ValueError(
                f"Without a preprocessor, `inputs` must be a dict with the keys {INPUT_KEYS}. "
                f"Received: {sorted(inputs) if isinstance(inputs, dict) else type(inputs)}")
        arrays = {key: np.asarray(keras.ops.convert_to_numpy(inputs[key])) for key in inputs}
        vocabulary = self.backbone.vocabulary_size
        for side in ("encoder", "decoder"):
            ids, mask = arrays[f"{side}_token_ids"], arrays[f"{side}_padding_mask"]
            if ids.ndim != 2 or ids.shape != mask.shape:
                raise ValueError(
                    f"`{side}_token_ids` and `{side}_padding_mask` must be [batch, length] of "
                    f"one shape. Received: {ids.shape} and {mask.shape}")
            if ids.shape[0] == 0:
                raise ValueError("`inputs` is an empty batch: pass at least one source.")
            validation.token_ids_in_vocabulary(f"{side}_token_ids", ids, vocabulary)
            if not mask.astype(bool)[:, 0].all():
                raise ValueError(
                    f"Every row needs at least one token at its start (`{side}_padding_mask"
                    "[:, 0]` all true): a source, and a decoder prompt such as the start token.")

    def _check_text_inputs(self, inputs):
        sources = text_prompts(inputs["encoder_text"] if isinstance(inputs, dict) else inputs,
                               "source")
        preprocessor = self.preprocessor
        _check_vocabulary(self.backbone, preprocessor)
        # Tokenized here and again by `generate`'s preprocessing: the warning needs the
        # lengths before the packer truncates them, which the packed inputs no longer show.
        tokenized = preprocessor.tokenizer(list(sources))
        tokenized = tokenized.to_list() if hasattr(tokenized, "to_list") else tokenized
        lengths = [len(np.asarray(ids)) + 2 for ids in tokenized]  # with <s> and </s>
        limit = preprocessor.encoder_sequence_length
        truncated = sum(length > limit for length in lengths)
        if truncated:
            warnings.warn(
                f"{truncated} of {len(lengths)} sources are longer than the preprocessor's "
                f"encoder_sequence_length ({limit} tokens with <s> and </s>; the longest has "
                f"{max(lengths)}) and are truncated. Set `preprocessor.encoder_sequence_length` "
                "to translate them whole.", stacklevel=3)
