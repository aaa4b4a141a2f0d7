"""Shared pytest setup.

`tests/` is not a package: put it on `sys.path` so that every test module can
`import reference` (the float64 NumPy ground truth) and `import backend_utils`
(numpy <-> backend conversion, autodiff on each backend, shared generators).
"""

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# On the JAX backend the tests are dominated by XLA compiling many small programs (every shape is
# a new one); unoptimised CPU code generation compiles them about five times faster and runs the
# tests' tiny shapes just as well. Read when JAX starts its backend; a user's XLA_FLAGS win.
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    )
