"""ZooCausalLM: what every zoo language model shares on top of keras-hub's `CausalLM`: the
functional forward pass (token ids -> logits) and the checks of what users pass to `generate`
and to the constructor. Its subclasses supply the cache and `generate_step`."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf  # keras-hub's preprocessing runs on tf.data whatever the backend
from keras import ops
from keras_hub.src.utils.tensor_utils import any_equal

from fwp_keras import _validation as validation
from fwp_keras.zoo.fast_weight.generalized_generate_function import GeneralizedGenerateFunction
from fwp_keras.zoo.fast_weight.suppressed_tokens import SuppressesTokens
from fwp_keras.zoo.jax_state import KeepsJaxStateOnError
from fwp_keras.zoo.presets import NamedPresets


class ZooCausalLM(SuppressesTokens, GeneralizedGenerateFunction, KeepsJaxStateOnError,
                  NamedPresets, keras_hub.models.CausalLM):
    """Base of `FastWeightCausalLM` and `TransformerCausalLM`; see them."""

    def __init__(self, backbone, preprocessor=None, **kwargs):
        if preprocessor is not None:
            _check_vocabulary(backbone, preprocessor)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # === Functional model ===
        inputs = backbone.input
        hidden = backbone(inputs)
        outputs = backbone.embeddings.logits(hidden)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        check_integer_inputs(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False,
                 suppressed_token_ids="auto"):
        """keras-hub's `generate` (strings with a preprocessor; else `{"token_ids",
        "padding_mask"}` with each prompt at the start of its row), after checking the inputs:
        an empty batch, token ids outside the vocabulary, an empty prompt, or a prompt longer
        than `max_length` is a `ValueError` naming the argument. `suppressed_token_ids`: ids
        never sampled (`"auto"`: padding and `<unk>`; `()`: none)."""
        self.set_suppressed_token_ids(suppressed_token_ids)
        check_stop_token_ids(stop_token_ids, self.backbone.vocabulary_size)
        if self.preprocessor is not None:
            _check_vocabulary(self.backbone, self.preprocessor)
        if self.preprocessor is not None and max_length is not None:
            max_length = validation.positive_integer("max_length", max_length)
        self._check_generate_inputs(inputs, max_length)
        return super().generate(inputs, max_length=max_length, stop_token_ids=stop_token_ids,
                                strip_prompt=strip_prompt)

    def _check_generate_inputs(self, inputs, max_length):
        if isinstance(inputs, tf.data.Dataset):
            return  # batches are checked by the graph (an out-of-range id fails the gather)
        if isinstance(inputs, dict) and self.preprocessor is None:
            if "token_ids" not in inputs or "padding_mask" not in inputs:
                raise ValueError(
                    "`inputs` given as a dict must have the keys 'token_ids' and 'padding_mask'. "
                    f"Received keys: {sorted(inputs)}"
                )
            token_ids = np.asarray(keras.ops.convert_to_numpy(inputs["token_ids"]))
            mask = np.asarray(keras.ops.convert_to_numpy(inputs["padding_mask"])).astype(bool)
            if token_ids.ndim == 1:
                token_ids, mask = token_ids[None], mask[None]
            self._check_token_ids(token_ids, mask)
            return
        if isinstance(inputs, dict):
            if "token_ids" in inputs:
                raise ValueError(
                    "With a preprocessor attached, `generate` takes strings (keras-hub's rule); "
                    "to pass token ids, set `lm.preprocessor = None` first."
                )
            return  # a dict of strings for the preprocessor
        if self.preprocessor is None:
            raise ValueError(
                "Without a preprocessor, `inputs` must be a dict {'token_ids', 'padding_mask'}. "
                f"Received: {type(inputs).__name__}"
            )
        self._prompts = text_prompts(inputs)
        # Whether the prompts leave room is checked on the packed prompts that keras-hub's
        # `generate` makes anyway (`make_generate_function`), so they are tokenized once.
        self._check_width(max_length or self.preprocessor.sequence_length)

    def make_generate_function(self):
        """keras-hub's compiled generation, after checking that each packed prompt leaves
        room to generate (with a preprocessor; token-id prompts fill their rows as given)."""
        generate_function = super().make_generate_function()

        def checked_generate_function(inputs, stop_token_ids=None):
            if self.preprocessor is not None:
                self._check_room(inputs["padding_mask"])
            return generate_function(inputs, stop_token_ids=stop_token_ids)

        return checked_generate_function

    def _check_room(self, padding_mask):
        mask = np.asarray(keras.ops.convert_to_numpy(padding_mask)).astype(bool)
        if mask[:, -1].any():  # the packer truncated a prompt to the row, or it just fits
            tokenized = self.preprocessor.tokenizer(getattr(self, "_prompts", []))
            tokenized = tokenized.to_list() if hasattr(tokenized, "to_list") else tokenized
            longest = max((len(ids) + 1 for ids in tokenized), default=mask.shape[1])
            raise ValueError(
                f"`max_length` ({mask.shape[1]}) must exceed the longest prompt, {longest} "
                "tokens with the start token: there would be nothing to generate. Pass a "
                f"max_length above {longest}.")

    def _check_token_ids(self, token_ids, mask):
        if token_ids.shape[0] == 0:
            raise ValueError("`inputs` is an empty batch: pass at least one prompt.")
        if token_ids.shape != mask.shape:
            raise ValueError(
                "`token_ids` and `padding_mask` must have the same shape. Received: "
                f"{token_ids.shape} and {mask.shape}"
            )
        # Pads too: every id is embedded.
        validation.token_ids_in_vocabulary("token_ids", token_ids, self.backbone.vocabulary_size)
        if not mask[:, 0].all():
            raise ValueError(
                "Every prompt needs at least one token, at the start of its row "
                "(`padding_mask[:, 0]` all true); found an empty or left-padded row."
            )
        self._check_width(token_ids.shape[1])

    def _check_width(self, width):
        limit = self.backbone.max_sequence_length
        if self.backbone.position_encoding == "learned" and width > limit:
            raise ValueError(
                f"`max_length` ({width}) exceeds the {limit} positions the backbone learned "
                "(its max_sequence_length)."
            )

    def _check_sequences(self, token_ids, padding_mask=None):
        """`call_with_cache` takes `token_ids` (and `padding_mask`) as [batch, length]."""
        for name, x in (("token_ids", token_ids), ("padding_mask", padding_mask)):
            if x is not None and len(np.shape(x)) != 2:  # np.shape reads any tensor's .shape
                raise ValueError(
                    f"`{name}` must be [batch, length]. Received shape: {tuple(np.shape(x))}")

    def _check_cache_structure(self, cache, expected, name="cache"):
        """A cache passed to `call_with_cache` must match `expected` (`keras.KerasTensor`s)."""
        def shapes(structure):
            return keras.tree.map_structure(lambda x: tuple(x.shape), structure)

        try:
            keras.tree.assert_same_structure(cache, expected, check_types=False)
            mismatched = any(
                len(c.shape) != len(e.shape) or any(
                    a is not None and b is not None and a != b for a, b in zip(c.shape, e.shape))
                for c, e in zip(keras.tree.flatten(cache), keras.tree.flatten(expected))
            )
        except (ValueError, TypeError):
            mismatched = True
        if mismatched:
            raise ValueError(
                f"`{name}` must have the structure and shapes {shapes(expected)} (the state of "
                f"every layer). Received: {shapes(cache)}"
            )


def _check_vocabulary(backbone, preprocessor):
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "vocabulary_size"):
        return
    try:
        size = tokenizer.vocabulary_size()
    except ValueError:  # deserializing: the vocabulary asset arrives after the constructor
        return
    if size != backbone.vocabulary_size:
        raise ValueError(
            f"The preprocessor's tokenizer has a vocabulary of {size} tokens but the backbone's "
            f"vocabulary_size is {backbone.vocabulary_size}: they must match (build the "
            "backbone with vocabulary_size=tokenizer.vocabulary_size())."
        )


def check_integer_inputs(inputs):
    """Token ids given to a direct call hold integers (the functional model would cast floats
    to int32 without a word); traced calls have no values to check."""
    for name, value in (inputs.items() if isinstance(inputs, dict) else ()):
        ids = validation.concrete_values(value) if name.endswith("token_ids") else None
        if ids is not None:
            validation.integer_token_ids(name, np.asarray(ids))


def text_prompts(inputs, what="prompt"):
    """`inputs` (a string, or a list / array / tensor of strings) as a list of strings; other
    types, bytes, an empty batch or an empty string are a ValueError naming the argument."""
    if isinstance(inputs, str):
        inputs = [inputs]
    elif hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
        inputs = inputs.numpy()
    if isinstance(inputs, np.ndarray):
        if inputs.dtype.kind == "S":  # a TensorFlow string tensor: UTF-8 bytes
            inputs = np.char.decode(inputs, "utf-8")
        inputs = inputs.reshape(-1).tolist() if inputs.dtype.kind in "UO" else inputs
    if not isinstance(inputs, (list, tuple)) or not all(isinstance(x, str) for x in inputs):
        kind = type(inputs).__name__ if not isinstance(inputs, (list, tuple)) else (
            "a list holding " + ", ".join(sorted({type(x).__name__ for x in inputs})))
        raise ValueError(f"`inputs` must be a {what} string or a list of them. Received: "
                         f"{kind}" + (" (decode bytes to str first)" if "bytes" in kind else ""))
    if not inputs:
        raise ValueError(f"`inputs` is an empty batch: pass at least one {what}.")
    empty = [i for i, text in enumerate(inputs) if not text.strip()]
    if empty:
        raise ValueError(f"`inputs` holds an empty {what} (at index {empty[0]}): there is "
                         "nothing to go on from.")
    return list(inputs)


def check_stop_token_ids(stop_token_ids, vocabulary_size):
    """keras-hub's `stop_token_ids`: "auto", None, or a sequence of ids in the vocabulary."""
    if stop_token_ids is None or (isinstance(stop_token_ids, str) and stop_token_ids == "auto"):
        return
    items = list(stop_token_ids) if isinstance(stop_token_ids, (list, tuple, np.ndarray)) \
        else None
    if items is None or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                                for i in items):
        raise ValueError("`stop_token_ids` must be 'auto', None or a list of integer token "
                         f"ids. Received: {stop_token_ids!r}")
    validation.token_ids_in_vocabulary("stop_token_ids", np.asarray(items, np.int64),
                                       vocabulary_size)


def through_first_stop(token_ids, stop_token_ids, searched):
    """keras-hub's rule for the output mask: true up to and including each row's first stop
    token among the `searched` columns (those generated), false after it."""
    ends = ops.cast(any_equal(token_ids, stop_token_ids, searched), "int32")
    return ops.logical_not(ops.cast(ops.cumsum(ends, axis=1) - ends, "bool"))
