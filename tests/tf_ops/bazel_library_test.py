"""The op library built by Bazel (`make bazel` -> build/bazel/_fwp_ops.so).

Loaded in a fresh Python: the setuptools-built library registers the same op
names, and TensorFlow refuses a second registration in one process. The child
runs the forward ops on inputs made here and hands the results back through an
.npz file; they are compared with the float64 NumPy reference.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from backend_utils import assert_close
from op_utils import RULES, make_inputs, reference_outputs

LIBRARY = Path(__file__).resolve().parents[2] / "build" / "bazel" / "_fwp_ops.so"
OPS = ["FwpLinearAttention", "FwpLinearAttentionGrad", "FwpDeltaRule", "FwpDeltaRuleGrad"]

pytestmark = pytest.mark.skipif(
    not LIBRARY.exists(), reason=f"{LIBRARY} not built: run `make bazel`"
)

# (B, T, H, Dk, Dv, chunk_size): T not a multiple of the chunk, one chunk, one step.
CASES = [(2, 11, 2, 4, 3, 4), (1, 9, 3, 5, 6, 64), (2, 1, 1, 3, 2, 2)]

_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from fwp_keras.tf_ops.loader import registered_op_names

    library, inputs, outputs = sys.argv[1:4]
    lib = tf.load_op_library(library)
    names = registered_op_names(lib)
    data = np.load(inputs)
    cases = json.loads(str(data["cases"]))
    results = {}
    for i, chunk_size in enumerate(cases):
        x = {name: tf.constant(data[f"{i}_{name}"]) for name in ("q", "k", "v", "beta", "s0", "z0")}
        o, s, _ = lib.fwp_linear_attention(
            x["q"], x["k"], x["v"], x["s0"], x["z0"], chunk_size=chunk_size)
        results[f"{i}_sum_o"], results[f"{i}_sum_s"] = o.numpy(), s.numpy()
        o, s, _ = lib.fwp_delta_rule(
            x["q"], x["k"], x["v"], x["beta"], x["s0"], x["z0"], chunk_size=chunk_size)
        results[f"{i}_delta_o"], results[f"{i}_delta_s"] = o.numpy(), s.numpy()
    np.savez(outputs, names=json.dumps(sorted(names)), **results)
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Inputs (float64, as given to the ops in float32) and the child's outputs."""
    tmp = tmp_path_factory.mktemp("bazel_library")
    rng = np.random.default_rng(0)
    cases = [make_inputs(rng, "delta", B, T, H, Dk, Dv) for B, T, H, Dk, Dv, _ in CASES]
    # Round to float32 first, so the reference sees exactly what the op sees.
    cases = [{n: a.astype(np.float32).astype(np.float64) for n, a in c.items()} for c in cases]
    arrays = {f"{i}_{n}": a.astype(np.float32) for i, c in enumerate(cases) for n, a in c.items()}
    np.savez(tmp / "inputs.npz", cases=json.dumps([c[-1] for c in CASES]), **arrays)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(LIBRARY), str(tmp / "inputs.npz"), str(tmp / "out.npz")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert child.returncode == 0, f"loading {LIBRARY} failed:\n{child.stderr[-4000:]}"
    with np.load(tmp / "out.npz") as out:
        return cases, {name: out[name] for name in out.files}


def test_registers_the_four_ops(run):
    _, out = run
    names = json.loads(str(out["names"]))
    assert set(OPS) <= set(names), names


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", range(len(CASES)), ids=[str(c) for c in CASES])
def test_forward_ops_match_the_float64_reference(run, case, rule):
    cases, out = run
    o, s, _ = reference_outputs(rule, cases[case], normalize=False)
    assert out[f"{case}_{rule}_o"].dtype == np.float32
    assert_close([out[f"{case}_{rule}_o"], out[f"{case}_{rule}_s"]], [o, s], 1e-5)
