"""What the command lines do before TensorFlow loads: keep its C++ start-up chatter (oneDNN,
CUDA drivers, `failed call to cuInit` on a machine without a GPU) off the terminal.

A user who sets `TF_CPP_MIN_LOG_LEVEL` sees TensorFlow's logs at that level, start-up included.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_to_devnull():
    """The process's file descriptor 2 (where C++ writes, past Python's `sys.stderr`) sent to
    /dev/null inside the block; Python's own errors raised there still reach the terminal."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_tensorflow_quietly():
    """Imports TensorFlow with its start-up lines hidden and its C++ logs limited to fatal
    errors (Python exceptions are unaffected), unless `TF_CPP_MIN_LOG_LEVEL` is set."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with native_stderr_to_devnull():
        import tensorflow  # noqa: F401  (absl logs its start-up before any level applies)
