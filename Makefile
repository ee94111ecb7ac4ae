# The README's two commands. `make run`: install into .venv and run the quick profile of every check.
# `make test`: install with test extras and run the test suite in parallel.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test run test figures bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

run: install
	$(BIN)/theory-lab check --all --profile quick

test: install-test
	$(BIN)/python -m pytest -n 2 --dist worksteal -q tests

figures: install
	$(BIN)/theory-lab figures

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf results figures/out
