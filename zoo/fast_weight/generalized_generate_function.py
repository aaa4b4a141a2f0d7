"""GeneralizedGenerateFunction: on TensorFlow, one traced generation for every batch size and
width.

keras-hub compiles `generate_step` with a plain `tf.function`, which traces again for each new
batch size or prompt width (and TensorFlow warns about retracing after five). With
`reduce_retracing=True` the second shape gives a trace of unknown batch and width that every
later call reuses; the zoo's generation takes any shape (the SavedModel export traces it so).
"""

import keras
import tensorflow as tf


class GeneralizedGenerateFunction:
    """Mixin for the zoo's `CausalLM` and `Seq2SeqLM` (before the keras-hub base)."""

    def make_generate_function(self):
        if (self.generate_function is None and keras.config.backend() == "tensorflow"
                and not self.run_eagerly):
            self.generate_function = tf.function(
                self.generate_step, jit_compile=getattr(self, "jit_compile", True),
                reduce_retracing=True)
        return super().make_generate_function()
