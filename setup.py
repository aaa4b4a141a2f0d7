"""Builds the TensorFlow op library while the package is installed (`pip install .`).

Everything else about the package is declared in pyproject.toml. TensorFlow is a build
requirement there, so the library is compiled against it with `tf_ops/build.py` (the same build
`make ops` and the loader run) and ships inside the installed `fwp_keras/tf_ops/`. Editable
installs skip this (`make ops`, or the loader on first use, builds in the source tree), and so does
an install whose build fails: the loader then builds on first use or falls back with a warning.
"""

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _load_op_builder():
    path = Path(__file__).resolve().parent / "tf_ops" / "build.py"
    spec = importlib.util.spec_from_file_location("_fwp_ops_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithOps(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        output_dir = Path(self.build_lib) / "fwp_keras" / "tf_ops"
        try:
            _load_op_builder().build(output_dir, verbose=True)
        except Exception as error:  # never fail the install: the loader retries on first use
            print(f"fwp-keras: the op library was not built at install time ({error}); it will "
                  "be built on first use.", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithOps})
