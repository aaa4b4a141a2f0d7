"""Callbacks that Keras lacks: the paper's stopping rule, untearable backups and the memory
diagnostics."""

from fwp_keras.training.callbacks.stop_when import StopWhen
from fwp_keras.training.callbacks.resumable_backup import ResumableBackup
