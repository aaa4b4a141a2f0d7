"""Argument checks shared by the memory programs, the feature maps and the layers.

One path for every constructor and function argument, so that each error names the argument and
says what was expected. Python and NumPy scalars are accepted alike (`np.int64(2)` is an integer,
`np.True_` a boolean); strings and other look-alikes are not (`causal="yes"` is an error).
"""

import math
import numbers
import operator

import keras
import numpy as np


def _fail(name, expected, value):
    raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")


def integer(name, value, minimum=None, allow_none=False):
    """`value` as a Python int (>= `minimum`), or None when `allow_none`."""
    if value is None and allow_none:
        return None
    expected = "an integer" if minimum is None else f"an integer >= {minimum}"
    if allow_none:
        expected += " or None"
    if isinstance(value, (bool, np.bool_)):
        _fail(name, expected, value)
    try:
        result = operator.index(value)
    except TypeError:
        _fail(name, expected, value)
    if minimum is not None and result < minimum:
        _fail(name, expected, value)
    return result


def positive_integer(name, value, allow_none=False):
    return integer(name, value, minimum=1, allow_none=allow_none)


def boolean(name, value):
    """`value` as a Python bool; only True, False and NumPy booleans are booleans."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, "True or False", value)
    return bool(value)


def non_negative_number(name, value, positive=False):
    """A finite real number >= 0 (> 0 with `positive`), as a Python float."""
    expected = "a positive number (finite)" if positive else "a finite number >= 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(name, expected, value)
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        _fail(name, expected, value)
    return value


def one_of(name, value, allowed):
    if not any(value is option or (type(value) is type(option) and value == option)
               for option in allowed):
        _fail(name, f"one of {tuple(allowed)}", value)
    return value


def concrete_values(x):
    """`x` as a NumPy array when its values exist now (an eager call), else None: while Keras
    builds a functional model, `tf.function`, `jax.jit` or `torch.compile` traces, or torch
    infers shapes on its "meta" device, there are no values to check."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, keras.KerasTensor):
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or not hasattr(x, "numpy"):
            return None
    elif backend == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    elif backend == "torch":
        import torch

        if torch.compiler.is_compiling() or getattr(x, "device", None) == torch.device("meta"):
            return None
    return np.asarray(keras.ops.convert_to_numpy(x))


def integer_token_ids(name, token_ids):
    """Raises unless `token_ids` (a NumPy array) holds integers: a model's int32 input would
    truncate 3.7 to 3 without a word."""
    if not np.issubdtype(token_ids.dtype, np.integer):
        raise ValueError(f"`{name}` must be integer token ids. Received dtype: "
                         f"{token_ids.dtype} (cast the ids to int32)")


def token_ids_in_vocabulary(name, token_ids, vocabulary_size):
    """Raises unless every id of `token_ids` (a NumPy array) is in [0, vocabulary_size): an
    embedding lookup would clamp the others silently on JAX and fail deep inside torch."""
    integer_token_ids(name, token_ids)
    outside = (token_ids < 0) | (token_ids >= vocabulary_size)
    if outside.any():
        raise ValueError(
            f"`{name}` must be in [0, {vocabulary_size}) (the backbone's vocabulary_size). "
            f"Received ids {sorted(set(token_ids[outside].tolist()))[:5]}"
        )
