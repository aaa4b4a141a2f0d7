"""Finds, checks and loads the op library; falls back to the keras.ops path with one warning.

The library is `_fwp_ops.so` in `build.default_output_dir()`. It is used only when its record
(`_fwp_ops.json`) names the running TensorFlow version and the current sources; otherwise it is
rebuilt once (a compiler and the TensorFlow headers are all it needs) and, failing that, the memory
programs run their keras.ops chunked forms. `FWP_KERAS_DISABLE_CUSTOM_OPS=1` turns the ops off.
"""

import contextlib
import json
import os
import threading
import warnings

DISABLE_ENV = "FWP_KERAS_DISABLE_CUSTOM_OPS"

_lock = threading.Lock()
_module = None
_error = None
_warned = False


_disabled = threading.local()


def custom_ops_disabled():
    """True when `FWP_KERAS_DISABLE_CUSTOM_OPS=1` is set or inside `disable_custom_ops()`."""
    if getattr(_disabled, "depth", 0) > 0:
        return True
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def disable_custom_ops():
    """Within this block (this thread) the memory programs run their keras.ops forms, as with
    `FWP_KERAS_DISABLE_CUSTOM_OPS=1`. Trace an export here to get a SavedModel with no `Fwp...`
    op in its graph, which stock TensorFlow and TF Serving load:

        with fwp_keras.tf_ops.disable_custom_ops():
            model.export(path)
    """
    _disabled.depth = getattr(_disabled, "depth", 0) + 1
    try:
        yield
    finally:
        _disabled.depth -= 1


def registered_op_names(library):
    """The op names a module from `tf.load_op_library` registers."""
    if hasattr(library, "OP_LIST"):
        return [op.name for op in library.OP_LIST.op]
    # TF 2.21's generated module has no OP_LIST: its CamelCase functions are the ops.
    from tensorflow.python.framework import op_def_registry

    return [
        name for name in dir(library)
        if name[:1].isupper()
        and getattr(getattr(library, name), "__module__", None) == library.__name__
        and op_def_registry.get(name) is not None
    ]


def _check_record(record_path):
    """Why the library beside `record_path` may not be used, or None if it may."""
    from fwp_keras.tf_ops import build  # imported late: `python -m ...build` runs it as __main__

    if not record_path.exists():
        return f"{record_path.name} is missing"
    record = json.loads(record_path.read_text())
    expected = build.expected_record(with_cuda=record.get("cuda", False))
    if record.get("tensorflow_version") != expected["tensorflow_version"]:
        return (
            f"it was built for TensorFlow {record.get('tensorflow_version')}, "
            f"this is TensorFlow {expected['tensorflow_version']}"
        )
    if record.get("cpu_features") != expected["cpu_features"]:
        return "it was built on a machine with other CPU features (-march=native)"
    if record != expected:
        return "it was built from other sources or flags"
    return None


def _load(build_if_needed):
    import tensorflow as tf

    from fwp_keras.tf_ops import build

    directory = build.default_output_dir()
    library = directory / build.LIBRARY_NAME
    problem = None if library.exists() else f"{library} does not exist"
    problem = problem or _check_record(directory / build.RECORD_NAME)
    if problem:
        if not build_if_needed:
            raise RuntimeError(f"the op library cannot be used: {problem}")
        print(f"fwp_keras: building the op library ({problem}); this takes a few minutes once.")
        try:
            library = _rebuild(build, directory)
        except Exception as error:
            raise RuntimeError(f"{problem}, and rebuilding it failed: {error}") from error
    module = tf.load_op_library(str(library))
    from fwp_keras.tf_ops import gradients

    gradients.register(module)
    return module


def _rebuild(build, directory):
    """Builds the library; with the CPU kernels alone should the CUDA part be what fails."""
    try:
        return build.build(directory, force=True)
    except RuntimeError:
        if not build.find_nvcc():
            raise
        return build.build(directory, force=True, cuda=False)


def load_custom_ops(build_if_needed=True):
    """Loads the `Fwp...` ops (building them first if missing or stale) and returns their module.

    Call this before `tf.saved_model.load` of a SavedModel whose graph contains the ops. Raises
    `RuntimeError` saying why when the ops are disabled or cannot be built or loaded.
    """
    global _module, _error
    if custom_ops_disabled():
        raise RuntimeError(
            f"the fwp_keras custom ops are disabled ({DISABLE_ENV}=1 or disable_custom_ops())"
        )
    with _lock:
        if _module is not None:
            return _module
        if _error is not None:
            raise RuntimeError(_error)
        try:
            _module = _load(build_if_needed)
        except Exception as error:  # a compiler error, a missing symbol, a stale record...
            _error = f"the fwp_keras op library could not be loaded: {error}"
            raise RuntimeError(_error) from error
        return _module


def custom_ops():
    """The op module, or None (with one warning per process) when it cannot be used."""
    global _warned
    if custom_ops_disabled():
        return None
    try:
        return load_custom_ops()
    except RuntimeError as error:
        if not _warned:
            _warned = True
            warnings.warn(
                f"{error}. Falling back to the keras.ops chunked implementation "
                f"(set {DISABLE_ENV}=1 to silence this).",
                RuntimeWarning,
                stacklevel=3,
            )
        return None
