# Two commands for a fresh machine: `make demo` and `make test` (each sets up .venv first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OUT ?= demo_output

.PHONY: demo test test-tensorflow test-jax test-torch bench clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,demo,jax,torch]"
	touch $@

demo: $(INSTALLED)
	$(BIN)/python -m fwp_keras.training.capacity_demo --output-dir $(OUT)

# The whole suite on TensorFlow; the op and layer tests on JAX and PyTorch too.
test: test-tensorflow test-jax test-torch

test-tensorflow: $(INSTALLED)
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest tests

test-jax: $(INSTALLED)
	KERAS_BACKEND=jax $(BIN)/python -m pytest tests/ops tests/layers

test-torch: $(INSTALLED)
	KERAS_BACKEND=torch $(BIN)/python -m pytest tests/ops tests/layers

bench: $(INSTALLED)
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks.chunked_memory

clean:
	rm -rf $(VENV) build *.egg-info $(OUT)
