"""Callbacks that Keras lacks: the paper's stopping rule, untearable backups, the memory
diagnostics and per-epoch training time."""

from fwp_keras.training.callbacks.epoch_timer import EpochTimer
from fwp_keras.training.callbacks.memory_diagnostics import MemoryDiagnostics, memory_model
from fwp_keras.training.callbacks.resumable_backup import ResumableBackup
from fwp_keras.training.callbacks.stop_when import StopWhen
