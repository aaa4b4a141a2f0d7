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
