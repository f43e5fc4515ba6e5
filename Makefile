# synchub: `make run` starts the embedded server, `make test` runs the suite,
# `make test-fast` its quick loop (no slow tests, no PostgreSQL half: docs/testing.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/synchub init
	$(BIN)/synchub serve

# Compiled modules are kept even under PYTHONDONTWRITEBYTECODE: compiling synchub
# anew in each `synchub` the tests start, and the test modules with their asserts
# rewritten in each pytest process, takes seconds of CPU every time.
test: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

test-fast: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n 2 -m 'not slow and not postgresql'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# Screenshots of the console's pages, over sample data, in Debian's chromium.
screenshots: $(STAMP)
	$(BIN)/python -m tests.support.screenshots docs/screenshots

clean:
	rm -rf $(VENV) data
