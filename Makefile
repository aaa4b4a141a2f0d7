# Two commands for a fresh machine: `make demo` and `make test` (each sets up .venv first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OP_LIBRARY := tf_ops/_fwp_ops.so
OP_SOURCES := $(shell find tf_ops/cc -name '*.cc' -o -name '*.h')
OUT ?= demo_output

.PHONY: demo demo-capacity docs docs-check test test-tensorflow test-jax test-torch bench bench-zoo bench-training bench-translation bazel gpu-check ops clean

# Without build isolation: the editable install needs no TensorFlow in a build environment
# (setup.py builds the op library only for `pip install .`; here $(OP_LIBRARY) does).
$(INSTALLED): pyproject.toml constraints.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt "setuptools>=69" wheel
	$(BIN)/pip install --quiet --no-build-isolation -c constraints.txt -e ".[test,jax,torch,docs]"
	touch $@

# The TensorFlow op library, built with tf.sysconfig's flags (CUDA launchers too where nvcc is).
$(OP_LIBRARY): $(INSTALLED) $(OP_SOURCES) tf_ops/build.py
	$(BIN)/python -m fwp_keras.tf_ops.build
	touch $@

ops: $(OP_LIBRARY)

# The same library built by Bazel (Debian's bazel-bootstrap, installed if missing).
bazel: $(INSTALLED)
	PYTHON=$(BIN)/python tf_ops/bazel/build.sh

# The CUDA kernels against a CPU reference, without TensorFlow (on a machine with a GPU).
gpu-check:
	$(MAKE) -C tf_ops/gpu_harness check

# The shipped presets in use: generate, perplexity, fit, export and serve a language model;
# translate, BLEU, fit, export and serve a translation model; the Sec. 6.1 memories (~3 minutes).
demo: $(OP_LIBRARY)
	$(BIN)/python -m fwp_keras.training.demo --output-dir $(OUT)

# The fast weight memory's capacity and overwriting, without training (paper Sec. 4).
demo-capacity: $(OP_LIBRARY)
	$(BIN)/python -m fwp_keras.training.capacity_demo --output-dir $(OUT)/capacity

# The whole suite on TensorFlow; the op, layer and zoo tests on JAX and PyTorch too. Tests run
# in TEST_WORKERS processes (pytest-xdist): most of their time is single-threaded tracing and
# compiling, so two workers on two cores take about 0.6x the time of one.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=15

test: docs-check test-tensorflow test-jax test-torch

# The docs site (mkdocs.yml, docs/) into site/; docs-check fails on a broken link, a missing
# page or an API reference that does not resolve (--strict), and writes nothing to keep.
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-check: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $$(mktemp -d)

test-tensorflow: $(OP_LIBRARY) bazel
	KERAS_BACKEND=tensorflow $(PYTEST) tests

test-jax: $(INSTALLED)
	KERAS_BACKEND=jax $(PYTEST) tests/ops tests/layers tests/zoo

test-torch: $(INSTALLED)
	KERAS_BACKEND=torch $(PYTEST) tests/ops tests/layers tests/zoo

bench: $(OP_LIBRARY)
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.custom_ops
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.chunked_memory

# The zoo's language models: decode, prefill, training steps, decoding memory (about 30 minutes).
bench-zoo: $(OP_LIBRARY)
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.zoo

# fwp-train lm end to end: Delta Net vs softmax throughput, the diagnostics' overhead (~17 min).
bench-training: $(OP_LIBRARY)
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.training

# The translation families on Multi30k En->De at one size and budget (7 resumable runs, ~1.5 h).
bench-translation: $(OP_LIBRARY)
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.translation --runs-dir runs/translation

clean:
	rm -rf $(VENV) build *.egg-info $(OUT) tf_ops/_fwp_ops.*
