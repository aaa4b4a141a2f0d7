"""SuppressesTokens: what `generate` never samples unless asked: padding and `<unk>`.

A model trained on padded batches and a vocabulary with an unknown token gives both some
probability; sampled, they print as nothing or as " ⁇ " in the middle of a sentence. Their
logits are set to the lowest value before every sampler (greedy, beam, top-k, ...) sees them.
`generate(..., suppressed_token_ids=())` allows them, or names other ids to forbid.
"""

import keras
import numpy as np
from keras import ops

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

    def suppress(self, logits):
        """`logits [B, V]` with the suppressed ids' set to a large negative value."""
        ids = getattr(self, "_suppressed_token_ids", None)
        if ids is None:
            ids = self.set_suppressed_token_ids()
        if not ids:
            return logits
        suppressed = np.zeros(self.backbone.vocabulary_size, bool)
        suppressed[list(ids)] = True
        # Finite: beam search takes log-probabilities; float16's range ends at 65504.
        lowest = -6e4 if keras.backend.standardize_dtype(logits.dtype) == "float16" else -1e9
        return ops.where(ops.convert_to_tensor(suppressed)[None, :],
                         ops.cast(lowest, logits.dtype), logits)
