#!/usr/bin/env bash
# Bazel build of the TensorFlow op library (`make bazel`):
#   1. installs Debian's bazel-bootstrap (Bazel 4.2.3, binary `bazel`) if no bazel is on PATH;
#   2. configures @local_config_tf from $PYTHON's TensorFlow (tf_configure.bzl);
#   3. bazel build //:_fwp_ops.so  (CPU only; incremental: Bazel's default output base);
#   4. copies it to build/bazel/_fwp_ops.so and loads it with tf.load_op_library in $PYTHON.
#
# PYTHON: interpreter with TensorFlow and fwp_keras (default .venv/bin/python). BAZEL: bazel binary
# (default `bazel`). Extra arguments go to `bazel build`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-.venv/bin/python}"
case "$PYTHON" in
  /*) ;;
  */*) PYTHON="$ROOT/$PYTHON" ;;
  *) PYTHON="$(command -v "$PYTHON")" || { echo "build.sh: $PYTHON not found" >&2; exit 1; } ;;
esac
if [[ ! -x "$PYTHON" ]]; then
  echo "build.sh: no Python at $PYTHON (run \`make\` first, or set PYTHON)" >&2
  exit 1
fi
BAZEL="${BAZEL:-bazel}"
TARGET="//:_fwp_ops.so"
OUT_DIR="$ROOT/build/bazel"
OUT_SO="$OUT_DIR/_fwp_ops.so"

# 1. Bazel. Debian's bazel-bootstrap runs on the system JDK (it depends on
#    default-jdk-headless, i.e. OpenJDK 17) and needs g++ for the local C++ toolchain.
if ! command -v "$BAZEL" >/dev/null 2>&1; then
  echo "build.sh: $BAZEL not found; installing Debian's bazel-bootstrap" >&2
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then SUDO=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y -q bazel-bootstrap g++; then
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q bazel-bootstrap g++
  fi
  command -v "$BAZEL" >/dev/null 2>&1 || { echo "build.sh: still no $BAZEL after installing bazel-bootstrap" >&2; exit 1; }
fi

# 2. Point @local_config_tf at $PYTHON. The flag goes into a bazelrc that .bazelrc
#    imports, so that a plain `bazel build //:_fwp_ops.so` afterwards sees the same
#    PYTHON (a different one would re-run the repository rule and rebuild).
mkdir -p "$OUT_DIR"
RC="$OUT_DIR/python.bazelrc"
RC_TEXT="$(printf '%s --repo_env=PYTHON=%s\n' build "$PYTHON" sync "$PYTHON" fetch "$PYTHON" query "$PYTHON")"
if [[ ! -f "$RC" || "$(cat "$RC")" != "$RC_TEXT" ]]; then
  printf '# Written by tf_ops/bazel/build.sh\n%s\n' "$RC_TEXT" > "$RC.tmp"
  mv -f "$RC.tmp" "$RC"
fi
# Re-run the repository rule when the TensorFlow it was made from changes
# (Bazel notices PYTHON changing, not a reinstall into the same interpreter).
STAMP="$OUT_DIR/.tf_stamp"
TF_ID="$("$PYTHON" -c 'import importlib.metadata as m, sys; print(sys.executable, m.version("tensorflow"))')"
if [[ -f "$STAMP" && "$(cat "$STAMP")" != "$TF_ID" ]]; then
  echo "build.sh: TensorFlow changed ($(cat "$STAMP") -> $TF_ID); reconfiguring" >&2
  "$BAZEL" sync --configure
fi

# 3. Build.
"$BAZEL" build "$@" "$TARGET"
echo "$TF_ID" > "$STAMP"
BIN="$("$BAZEL" info "$@" bazel-bin 2>/dev/null)"
install -m 755 "$BIN/_fwp_ops.so" "$OUT_SO.tmp"
mv -f "$OUT_SO.tmp" "$OUT_SO"

# 4. Check: it loads and registers ops.
TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" - "$OUT_SO" <<'PY'
import sys
import tensorflow as tf
from fwp_keras.tf_ops.loader import registered_op_names

lib = tf.load_op_library(sys.argv[1])
names = registered_op_names(lib)
if not names:
    sys.exit(f"{sys.argv[1]} registers no ops")
print(f"{sys.argv[1]}: {len(names)} ops: {', '.join(sorted(names))}")
PY
