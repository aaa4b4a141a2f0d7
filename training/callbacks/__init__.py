"""Callbacks that Keras lacks: the paper's stopping rule and the memory diagnostics."""

from fwp_keras.training.callbacks.stop_when import StopWhen
