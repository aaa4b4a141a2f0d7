"""StopWhen: the paper's stopping rule for the synthetic tasks, resumable."""

import math

import keras


class StopWhen(keras.callbacks.Callback):
    """Stops training when `monitor` falls below `threshold`, or has not improved for
    `patience_steps` training steps (checked at the end of each epoch, i.e. each evaluation).

    Keras' `EarlyStopping` counts patience in epochs and has no threshold; this one counts
    steps (`steps_per_epoch` per epoch) and restarts from a run's logged history, so a resumed
    run stops where an uninterrupted one does. `reason` says why it stopped (None if not).
    """

    def __init__(self, monitor="val_loss", threshold=None, patience_steps=None,
                 steps_per_epoch=1, history=()):
        super().__init__()
        self.monitor = monitor
        self.threshold = threshold
        self.patience_steps = patience_steps
        self.steps_per_epoch = steps_per_epoch
        self.best = math.inf
        self.best_step = 0
        self.reason = None
        for epoch, value in enumerate(history):
            self._update(epoch, value)

    def _update(self, epoch, value):
        step = (epoch + 1) * self.steps_per_epoch
        if value < self.best:
            self.best, self.best_step = value, step
        if self.threshold is not None and value < self.threshold:
            self.reason = f"{self.monitor} {value:.3g} < {self.threshold:g}"
        elif self.patience_steps is not None and step - self.best_step >= self.patience_steps:
            self.reason = (f"{self.monitor} has not improved for {step - self.best_step} steps "
                           f"(best {self.best:.4g} at step {self.best_step})")
        return self.reason is not None

    def on_train_begin(self, logs=None):
        if self.reason is not None:  # a resumed run that had already stopped
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and self._update(epoch, float(value)):
            self.model.stop_training = True
