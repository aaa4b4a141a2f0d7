"""EpochTimer: each epoch's training time, into the logs (and so the CSV log)."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Adds `train_seconds` to each epoch's logs: the wall time from the epoch's start to the
    end of its last training step, without the evaluation after it. Place it before the
    callbacks that write the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._end = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["train_seconds"] = self._end - self._start
