"""The Transformer recipe's learning rate (Vaswani et al. 2017, Sec. 5.3), which Keras lacks:
linear warm-up to `peak` over `warmup_steps`, then decay with the inverse square root of the
step: `lr(step) = peak * min(step / warmup_steps, sqrt(warmup_steps / step))`."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fwp_keras")
class InverseSquareRootDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps):
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        if not self.peak > 0 or self.warmup_steps < 1:
            raise ValueError("`peak` must be > 0 and `warmup_steps` an integer >= 1. Received: "
                             f"peak={peak}, warmup_steps={warmup_steps}")

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0  # Keras counts iterations from 0
        warmup = float(self.warmup_steps)
        return self.peak * ops.minimum(step / warmup, ops.sqrt(warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}
