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

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

# Compiled modules are kept even under PYTHONDONTWRITEBYTECODE: compiling the test
# modules and rewriting their asserts anew takes each process seconds.
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
