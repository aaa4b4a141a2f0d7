"""Builds the op library `_fwp_ops.so` with the flags of the installed TensorFlow (`tf.sysconfig`).

    python -m fwp_keras.tf_ops.build [--output-dir DIR] [--force]

Beside the library goes `_fwp_ops.json`, recording the TensorFlow version and the hash of the
sources and flags it was built from; the loader rebuilds or refuses a library whose record does not
match. `pip install .` runs it while installing (setup.py), `make test` and `make demo` after
their editable install; the loader also runs it on first use when the library is missing or
stale.

The CPU kernels always build. Where nvcc is (`$NVCC`, else `nvcc` on PATH) the CUDA launchers
(`cc/kernels/*.cu.cc`) and the GPU kernel registrations (`fwp_gpu_kernels.cc`, compiled with
GOOGLE_CUDA=1 against that CUDA's headers) are compiled and linked in, with the CUDA runtime
linked statically; `--no-cuda` leaves them out.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent / "cc"
LIBRARY_NAME = "_fwp_ops.so"
RECORD_NAME = "_fwp_ops.json"
# -march=native: the library is built on the machine that runs it (at install or first use);
# the record's cpu_features makes a machine with another CPU rebuild it.
CXX_FLAGS = ["-O3", "-march=native", "-fPIC", "-DNDEBUG", "-Wno-deprecated-declarations"]
# Hopper and Ampere; override with FWP_KERAS_CUDA_ARCHS="-arch=sm_89" and the like.
CUDA_ARCHS = os.environ.get(
    "FWP_KERAS_CUDA_ARCHS", "-gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_80,code=sm_80"
).split()


def default_output_dir():
    """`$FWP_KERAS_OPS_DIR`, else the package folder when writable, else ~/.cache/fwp_keras."""
    if os.environ.get("FWP_KERAS_OPS_DIR"):
        return Path(os.environ["FWP_KERAS_OPS_DIR"])
    here = Path(__file__).resolve().parent
    if os.access(here, os.W_OK):
        return here
    return Path.home() / ".cache" / "fwp_keras" / "ops"


def cpu_sources():
    return sorted(
        p for p in SOURCE_DIR.rglob("*.cc") if not p.name.endswith(".cu.cc")
    )


def cuda_sources():
    return sorted(SOURCE_DIR.rglob("*.cu.cc"))


def find_nvcc():
    return os.environ.get("NVCC") or shutil.which("nvcc")


def find_cuda_home(nvcc):
    """$CUDA_HOME, else the folder above nvcc's bin/ (nvcc may be a wrapper), else /usr/local/cuda."""
    candidates = [os.environ.get("CUDA_HOME"), Path(nvcc).resolve().parent.parent,
                  "/usr/local/cuda"]
    for home in filter(None, candidates):
        if (Path(home) / "include" / "cuda_runtime.h").exists():
            return Path(home)
    raise RuntimeError(f"no CUDA headers found beside {nvcc}; set CUDA_HOME")


def _tf_flags():
    import tensorflow as tf

    return tf.__version__, tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags()


def source_hash(compile_flags, with_cuda):
    """Hash of every source and header, the flags, and whether CUDA was linked in.

    Include paths are left out: they name where TensorFlow is installed (a library built in
    pip's build environment serves the same TensorFlow in the user's), and its version is
    recorded beside the hash.
    """
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".cc", ".h"):
            digest.update(str(path.relative_to(SOURCE_DIR)).encode())
            digest.update(path.read_bytes())
    flags = [flag for flag in CXX_FLAGS + list(compile_flags) if not flag.startswith("-I")]
    digest.update(" ".join(flags).encode())
    digest.update(b"cuda" if with_cuda else b"cpu")
    return digest.hexdigest()


def cpu_features():
    """A digest of this CPU's instruction-set flags: -march=native code may not run elsewhere
    (a library copied, or installed from a wheel built, on another machine is rebuilt)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = " ".join(sorted(set(line.split(":", 1)[1].split())))
                    return hashlib.sha256(flags.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.machine()


def expected_record(with_cuda):
    """The record a library built now, from these sources, for this TensorFlow would carry."""
    version, compile_flags, _ = _tf_flags()
    return {
        "tensorflow_version": version,
        "source_hash": source_hash(compile_flags, with_cuda),
        "cuda": with_cuda,
        "cpu_features": cpu_features(),
    }


def _run(cmd, verbose):
    if verbose:
        print(" ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n"
            f"{result.stderr[-4000:]}"
        )


def build(output_dir=None, force=False, verbose=False, cuda=True):
    """Builds the library into `output_dir` unless an up-to-date one is there; returns its path.

    `cuda=False` leaves the CUDA launchers out even where nvcc is present.
    """
    output_dir = Path(output_dir or default_output_dir())
    output_dir.mkdir(parents=True, exist_ok=True)
    library, record_path = output_dir / LIBRARY_NAME, output_dir / RECORD_NAME
    version, compile_flags, link_flags = _tf_flags()
    nvcc = find_nvcc() if cuda and cuda_sources() else None
    record = expected_record(with_cuda=bool(nvcc))
    if not force and library.exists() and record_path.exists():
        if json.loads(record_path.read_text()) == record:
            return library

    cxx = os.environ.get("CXX") or "g++"
    with tempfile.TemporaryDirectory(dir=output_dir) as tmp:
        tmp = Path(tmp)
        # With nvcc, the GPU kernel registrations (fwp_gpu_kernels.cc) compile in too.
        cuda_home = find_cuda_home(nvcc) if nvcc else None
        gpu_flags = ["-DGOOGLE_CUDA=1", f"-I{cuda_home / 'include'}"] if nvcc else []
        jobs = [
            [cxx, "-c", *CXX_FLAGS, *compile_flags, *gpu_flags, src, "-o", tmp / f"{i}.o"]
            for i, src in enumerate(cpu_sources())
        ]
        if nvcc:
            # -x cu: nvcc would compile a *.cu.cc file as host-only C++.
            jobs += [
                [nvcc, "-c", "-x", "cu", "-O3", "-std=c++17", *CUDA_ARCHS, "-Xcompiler", "-fPIC",
                 src, "-o", tmp / f"cuda{i}.o"]
                for i, src in enumerate(cuda_sources())
            ]
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(lambda cmd: _run(cmd, verbose), jobs))
        objects = sorted(tmp.glob("*.o"))
        cuda_libs = [f"-L{cuda_home / 'lib64'}", "-lcudart_static", "-ldl", "-lrt",
                     "-lpthread"] if nvcc else []
        staged = tmp / LIBRARY_NAME
        _run([cxx, "-shared", *objects, "-o", staged, *link_flags, *cuda_libs], verbose)
        # Replace atomically: a process that has the old library loaded keeps its mapping.
        os.replace(staged, library)
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    if verbose:
        print(f"built {library} for TensorFlow {version}" + (" with CUDA" if nvcc else ""))
    return library


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--no-cuda", action="store_true", help="leave the CUDA launchers out")
    args = parser.parse_args(argv)
    try:
        build(args.output_dir, force=args.force, verbose=True, cuda=not args.no_cuda)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
