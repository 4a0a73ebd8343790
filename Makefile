# The two set-up commands (README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test lint services clean bench

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

# Hub vs the reference registry (Debian's docker-registry, installed by scripts/test-deps.sh)
# on this machine, plus memory, S3-redirect and scale-out figures: ~10 minutes. Not part of
# `make test`. Report: benchmarks/results/<date>-bench.md (benchmarks/README.md explains it).
bench: $(BIN)/wasm-hub services
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
