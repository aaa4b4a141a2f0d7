"""CarriedStateLM: a fast weight language model trained with its memory carried across segments.

Table 4 of the paper: on contiguous streams (`datasets.text.contiguous_streams`), row `b` of
batch `n + 1` starts from the fast weights row `b` ended batch `n` with. Backpropagation stops
at the segment (the carried state enters as a constant), and the state starts again from zeros
where the batch says `reset` (a new data epoch or a new document). The states live in
non-trainable variables, so `BackupAndRestore` saves and restores them with the weights, on
every backend; evaluation carries its own states and leaves training's alone.
"""

import keras
from keras import ops

from fwp_keras.zoo.fast_weight.fast_weight_causal_lm import FastWeightCausalLM


class CarriedStateLM(keras.Model):
    """`{"token_ids", "padding_mask", "reset"}` -> logits of `causal_lm`, for `batch_size`
    fixed streams. Compile it with the loss of the language model."""

    def __init__(self, causal_lm, batch_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(causal_lm, FastWeightCausalLM):
            raise ValueError(
                "Carried state needs a fast weight language model (its memory is the state); "
                f"{type(causal_lm).__name__} has none.")
        self.causal_lm = causal_lm
        self.batch_size = batch_size
        self._states = {mode: self._state_variables(mode) for mode in ("train", "eval")}

    def _state_variables(self, mode):
        def variable(spec, name):
            return self.add_weight(shape=spec.shape, dtype=spec.dtype, initializer="zeros",
                                   trainable=False, name=f"{mode}_{name}")

        specs = self.causal_lm.backbone.state_spec(self.batch_size)
        memory = []
        for i, spec in enumerate(specs):
            if isinstance(spec, tuple):
                memory.append((variable(spec[0], f"S_{i}"), variable(spec[1], f"z_{i}")))
            else:
                memory.append(variable(spec, f"S_{i}"))
        positions = variable(keras.KerasTensor((self.batch_size,), "int32"), "positions")
        return {"positions": positions, "memory": tuple(memory)}

    @staticmethod
    def _as_cache(variables, read):
        """`call_with_cache`'s structure (Keras tracks the attribute's tuples as lists)."""
        return {"positions": read(variables["positions"]),
                "memory": tuple(tuple(map(read, layer)) if isinstance(layer, (list, tuple))
                                else read(layer) for layer in variables["memory"])}

    def carried_state(self, training=True):
        """The state the next training (or evaluation) batch starts from, as a cache of
        `call_with_cache` (a copy: later batches leave it as it is)."""
        return self._as_cache(self._states["train" if training else "eval"],
                              ops.copy)

    def call(self, inputs, training=False):
        variables = self._states["train" if training else "eval"]
        token_ids = inputs["token_ids"]
        if token_ids.shape[0] is not None and token_ids.shape[0] != self.batch_size:
            raise ValueError(
                f"CarriedStateLM carries {self.batch_size} streams; a batch must have exactly "
                f"that many rows. Received: token_ids.shape={tuple(token_ids.shape)}")
        keep = ops.logical_not(ops.cast(inputs["reset"], "bool"))

        def start(variable):  # zeros where the stream restarts; no gradient into the past
            mask = ops.reshape(keep, (-1,) + (1,) * (len(variable.shape) - 1))
            value = ops.convert_to_tensor(variable)
            return ops.stop_gradient(ops.where(mask, value, ops.zeros_like(value)))

        cache = self._as_cache(variables, start)
        logits, _, cache = self.causal_lm.call_with_cache(
            token_ids, cache, padding_mask=inputs.get("padding_mask"))
        for variable, value in zip(keras.tree.flatten(variables), keras.tree.flatten(cache)):
            variable.assign(value)
        return logits
