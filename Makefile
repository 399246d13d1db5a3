# Every target installs what it needs first; `make install` is quick when nothing changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp

.PHONY: install train test bench lint

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: install
	$(VENV)/bin/syllabus train

test: install
	$(PY) -m pytest

bench: install
	$(PY) bench/sync_overhead.py
	$(PY) bench/curricula.py
	$(PY) bench/procgen_reset.py
	$(PY) bench/train_throughput.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
