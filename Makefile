# The README's two commands: `make run` (set up + run the main job) and `make test` (set up + run the tests).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NASFLOW := $(VENV)/bin/nasflow
# pip prints a warning for every configured index folder that does not exist; keep the rest of its output.
PIP := $(PY) -m pip install -q --disable-pip-version-check
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup dev data run lint test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0 $(QUIET)   # the CPU build first: a bare torch requirement would pull CUDA wheels
	$(PIP) -e . $(QUIET)
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) -e '.[dev]' $(QUIET)
	touch $@

setup: $(VENV)/.installed

dev: $(VENV)/.dev

data: setup
	@test -d data/digits || $(NASFLOW) data init digits data/digits

run: data
	$(NASFLOW) run

test: dev lint
	$(PY) -m pytest

lint: dev
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: dev data
	$(PY) -m benchmarks

clean:
	rm -rf .nasflow
