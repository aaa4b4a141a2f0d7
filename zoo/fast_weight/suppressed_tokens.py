"""SuppressesTokens: the rules on what `generate` samples, applied to the logits before any
keras-hub sampler (greedy, beam, top-k, ...) sees them.

- Padding and `<unk>` are never sampled unless asked: a model trained on padded batches and a
  vocabulary with an unknown token gives both some probability; sampled, they print as
  nothing or as " ⁇ " in the middle of a sentence. `generate(..., suppressed_token_ids=())`
  allows them, or names other ids to forbid.
- A row (a beam) that has generated a stop token goes on with padding at no cost: keras-hub's
  beam search runs until every beam of the batch has stopped and kept scoring the tokens a
  finished beam went on to draw, so a row's best beam depended on the other rows in its batch.
- A row whose prompt is still running takes its prompt token at no cost: the sampler starts
  at the batch's shortest prompt, and keras-hub's beam search scored the tokens it would have
  drawn there (then wrote the prompt's over them), so a longer prompt's beams depended on the
  shortest prompt of the batch.
"""

import keras
import numpy as np
from keras import ops
from keras_hub.src.utils.tensor_utils import any_equal

from fwp_keras import _validation as validation

AUTO = "auto"


class SuppressesTokens:
    """Mixin for the zoo's `CausalLM` and `Seq2SeqLM` (before the keras-hub base)."""

    def set_suppressed_token_ids(self, suppressed_token_ids=AUTO):
        """The ids `generate` will not sample: `"auto"` (the tokenizer's padding and `<unk>`
        ids; 0 and 1 without one, the zoo tokenizers' ids), or a sequence of ids. Changing
        them traces the generation again."""
        if isinstance(suppressed_token_ids, str):
            validation.one_of("suppressed_token_ids", suppressed_token_ids, (AUTO,))
            ids = self._default_suppressed_token_ids()
        else:
            items = list(np.ravel(suppressed_token_ids)) if isinstance(
                suppressed_token_ids, (list, tuple, np.ndarray)) else None
            if items is None or not all(isinstance(i, (int, np.integer))
                                        and not isinstance(i, bool) for i in items):
                raise ValueError("`suppressed_token_ids` must be 'auto' or a sequence of "
                                 f"integer token ids. Received: {suppressed_token_ids!r}")
            ids = [int(i) for i in items]
            validation.token_ids_in_vocabulary("suppressed_token_ids", np.asarray(ids, int),
                                               self.backbone.vocabulary_size)
        ids = tuple(sorted(set(ids)))
        if ids != getattr(self, "_suppressed_token_ids", None):
            self.generate_function = None  # traced with the ids as constants
        self._suppressed_token_ids = ids
        return ids

    def _default_suppressed_token_ids(self):
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        if tokenizer is None:
            return (0, 1)
        ids = [getattr(tokenizer, "pad_token_id", None)]
        try:
            ids.append(tokenizer.token_to_id("<unk>"))
        except (KeyError, ValueError):  # a vocabulary without one
            pass
        return tuple(i for i in ids if i is not None)

    def sampling_logits(self, logits, prompt, index, prompt_mask, stop_token_ids):
        """`logits [B, V]` of the token at `index` as the sampler may see them (see the
        module): suppressed ids' at a large negative value; a row of `prompt [B, W]` still in
        its prompt (`prompt_mask [B', W]`; beam search repeats each of the B' rows into
        B / B' beams) sure of its prompt token, one that has generated a stop token sure of
        padding, both at no cost."""
        logits = self.suppress(logits)
        beams = ops.shape(prompt)[0] // ops.shape(prompt_mask)[0]
        prompt_mask = ops.repeat(ops.cast(prompt_mask, "bool"), beams, axis=0)
        vocabulary = ops.arange(self.backbone.vocabulary_size, dtype="int32")[None, :]
        lowest = ops.cast(_lowest(logits), logits.dtype)

        def sure(token_ids):
            return ops.where(vocabulary == token_ids[:, None], ops.cast(0, logits.dtype),
                             lowest)

        in_prompt = ops.take(prompt_mask, index, axis=1)
        logits = ops.where(in_prompt[:, None],
                           sure(ops.cast(ops.take(prompt, index, axis=1), "int32")), logits)
        if stop_token_ids is None:
            return logits
        columns = ops.arange(ops.shape(prompt)[1], dtype="int32")[None, :]
        generated = ops.logical_not(prompt_mask) & (columns < index)
        finished = ops.any(any_equal(prompt, stop_token_ids, generated), axis=1)
        padding = ops.full((ops.shape(prompt)[0],), self._padding_token_id(), "int32")
        return ops.where(finished[:, None], sure(padding), logits)

    def _padding_token_id(self):
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        return getattr(tokenizer, "pad_token_id", None) or 0

    def suppress(self, logits):
        """`logits [B, V]` with the suppressed ids' set to a large negative value."""
        ids = getattr(self, "_suppressed_token_ids", None)
        if ids is None:
            ids = self.set_suppressed_token_ids()
        if not ids:
            return logits
        suppressed = np.zeros(self.backbone.vocabulary_size, bool)
        suppressed[list(ids)] = True
        return ops.where(ops.convert_to_tensor(suppressed)[None, :],
                         ops.cast(_lowest(logits), logits.dtype), logits)


def _lowest(logits):
    """A logit no sampler picks. Finite: beam search takes log-probabilities; float16's range
    ends at 65504."""
    return -6e4 if keras.backend.standardize_dtype(logits.dtype) == "float16" else -1e9
