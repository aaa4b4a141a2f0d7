"""fwp-keras: Fast Weight Programmers / linear Transformers for Keras 3.

"Linear Transformers Are Secretly Fast Weight Programmers" (Schlag, Irie, Schmidhuber, ICML 2021).

`fwp_keras.ops`, `fwp_keras.layers`, `fwp_keras.zoo`, `fwp_keras.datasets`, `fwp_keras.tf_ops`
and `fwp_keras.training` load on first use: `import fwp_keras` alone loads no backend, so the
command lines can quiet TensorFlow's start-up before it loads.
"""

import importlib

__version__ = "0.1.0"
_SUBPACKAGES = ("datasets", "layers", "ops", "tf_ops", "training", "zoo")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"fwp_keras.{name}")
    raise AttributeError(f"module 'fwp_keras' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES])
