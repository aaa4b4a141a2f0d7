"""Loading the op library: the TensorFlow-version record, the rebuild of a missing or stale
library, the fallback to keras.ops with one warning, and FWP_KERAS_DISABLE_CUSTOM_OPS.

Each case runs in a fresh Python: a process loads the library (or decides not to) once.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from fwp_keras.tf_ops import build, load_custom_ops

# Runs the delta rule with implementation="auto" twice and reports what happened.
CHILD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import tensorflow as tf
    import fwp_keras.ops as fwp
    from fwp_keras import tf_ops

    prelude = sys.argv[1]
    exec(prelude)
    rng = np.random.default_rng(0)
    q = tf.nn.softmax(rng.standard_normal((1, 20, 2, 4)).astype("float32"))
    v = tf.constant(rng.standard_normal((1, 20, 2, 3)).astype("float32"))
    beta = tf.fill((1, 20, 2), 0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = tf.function(lambda: fwp.delta_rule(q, q, v, beta)).get_concrete_function().graph
        auto = fwp.delta_rule(q, q, v, beta)
    chunked = fwp.delta_rule(q, q, v, beta, implementation="chunked")
    try:
        tf_ops.load_custom_ops()
        error = None
    except RuntimeError as e:
        error = str(e)
    print("RESULT " + json.dumps({
        "uses_op": any(op.type == "FwpDeltaRule" for op in graph.get_operations()),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
        "max_diff": float(tf.reduce_max(tf.abs(auto - chunked))),
        "error": error,
    }))
""")


def run_child(tmp_path, env=None, prelude=""):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", FWP_KERAS_OPS_DIR=str(tmp_path),
                       **(env or {}))
    done = subprocess.run([sys.executable, "-c", CHILD, prelude], capture_output=True, text=True,
                          env=environment, timeout=300)
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[0][len("RESULT "):])


@pytest.fixture
def library_dir(tmp_path):
    """A copy of the built library and its record, in a folder of the test's own."""
    load_custom_ops()  # builds the library if this suite has not yet
    built = build.default_output_dir()
    for name in (build.LIBRARY_NAME, build.RECORD_NAME):
        shutil.copy(built / name, tmp_path / name)
    return tmp_path


def test_an_up_to_date_library_is_used(library_dir):
    result = run_child(library_dir)
    assert result["uses_op"] and not result["warnings"] and result["error"] is None
    assert result["max_diff"] < 1e-5


def test_disabled_by_environment(library_dir):
    result = run_child(library_dir, env={"FWP_KERAS_DISABLE_CUSTOM_OPS": "1"})
    assert not result["uses_op"] and not result["warnings"]
    assert "FWP_KERAS_DISABLE_CUSTOM_OPS" in result["error"]


def test_stale_library_that_cannot_be_rebuilt_falls_back_with_one_warning(library_dir):
    record = library_dir / build.RECORD_NAME
    record.write_text(json.dumps(dict(json.loads(record.read_text()),
                                      tensorflow_version="2.0.0")))
    result = run_child(library_dir, env={"CXX": "false"})  # the rebuild's compiler fails
    assert not result["uses_op"] and result["max_diff"] == 0.0
    assert len(result["warnings"]) == 1
    assert "built for TensorFlow 2.0.0" in result["warnings"][0]
    assert "rebuilding it failed" in result["warnings"][0]
    assert "Falling back to the keras.ops chunked implementation" in result["warnings"][0]


def test_library_built_for_another_cpu_is_not_loaded(library_dir):
    # -march=native code could die of an illegal instruction on another CPU.
    record = library_dir / build.RECORD_NAME
    record.write_text(json.dumps(dict(json.loads(record.read_text()), cpu_features="other")))
    result = run_child(library_dir, env={"CXX": "false"})
    assert not result["uses_op"] and len(result["warnings"]) == 1
    assert "other CPU features" in result["warnings"][0]


def test_unloadable_library_falls_back_with_one_warning(library_dir):
    (library_dir / build.LIBRARY_NAME).write_bytes(b"not a shared object")
    result = run_child(library_dir)
    assert not result["uses_op"] and result["max_diff"] == 0.0
    assert len(result["warnings"]) == 1 and "could not be loaded" in result["warnings"][0]


def test_missing_library_is_built_on_first_use(tmp_path):
    # Stands in for the compiler (minutes) by copying the library built for this suite.
    prelude = textwrap.dedent(f"""
        import shutil
        from fwp_keras.tf_ops import build
        calls = []
        def fake_build(directory, force=False, **kwargs):
            calls.append(force)
            for name in (build.LIBRARY_NAME, build.RECORD_NAME):
                shutil.copy({str(build.default_output_dir())!r} + "/" + name, directory)
            return directory / build.LIBRARY_NAME
        build.build = fake_build
    """)
    result = run_child(tmp_path, prelude=prelude)
    assert result["uses_op"] and not result["warnings"]


def test_record_names_tensorflow_version_and_sources():
    import tensorflow as tf

    from fwp_keras.tf_ops import loader

    record_path = build.default_output_dir() / build.RECORD_NAME
    record = json.loads(record_path.read_text())
    assert record["tensorflow_version"] == tf.__version__
    assert record["cpu_features"] == build.cpu_features()
    assert loader._check_record(record_path) is None


def test_record_does_not_depend_on_where_tensorflow_is_installed():
    """A library built in pip's build environment serves the same TensorFlow elsewhere."""
    flags = ["-D_GLIBCXX_USE_CXX11_ABI=1", "--std=c++17"]
    here = build.source_hash(["-I/venv/a/site-packages/tensorflow/include", *flags], False)
    there = build.source_hash(["-I/tmp/build-env/site-packages/tensorflow/include", *flags], False)
    assert here == there
    assert here != build.source_hash(["-I/venv/a/include", "-D_GLIBCXX_USE_CXX11_ABI=0"], False)
    assert here != build.source_hash(["-I/venv/a/include", *flags], True)
