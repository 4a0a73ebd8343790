# The two set-up commands (README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test lint services clean

$(BIN)/wasm-hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/wasm-hub
	mkdir -p data
	$(BIN)/wasm-hub migrate
	$(BIN)/wasm-hub serve --host 127.0.0.1 --port $(PORT)

# Everything the tests need on a fresh machine: system packages, then the services.
services:
	./scripts/test-deps.sh

lint: $(BIN)/wasm-hub
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(BIN)/wasm-hub services lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
