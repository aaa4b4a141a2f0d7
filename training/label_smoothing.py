"""Label-smoothed cross-entropy on integer labels (the Transformer recipe's loss).

Keras' `SparseCategoricalCrossentropy` has no label smoothing, and `CategoricalCrossentropy`'s
would need one-hot labels, `[batch, length, vocabulary]` floats per batch; this computes the same
loss from the logits' log-softmax:
    loss = (1 - eps) * -log p(y) + eps * mean_j -log p(j)
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fwp_keras")
class SparseLabelSmoothingCrossentropy(keras.losses.Loss):
    """Cross-entropy against `(1 - label_smoothing) * onehot(y) + label_smoothing / V`, from
    logits, on integer labels `y`; float32 whatever the logits' dtype."""

    def __init__(self, label_smoothing=0.1, name="label_smoothing_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        label_smoothing = float(label_smoothing)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError("`label_smoothing` must be in [0, 1). "
                             f"Received: label_smoothing={label_smoothing}")
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        labels = ops.cast(y_true, "int32")[..., None]
        nll = -ops.squeeze(ops.take_along_axis(log_probs, labels, axis=-1), axis=-1)
        if not self.label_smoothing:
            return nll
        return (1.0 - self.label_smoothing) * nll - self.label_smoothing * ops.mean(
            log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
