# Every target installs what it needs first; `make install` is quick when nothing changed.
# Installs use constraints.txt: the tested CPU torch and numpy<2 (never a CUDA build of torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
# Every time limit of the test suite is multiplied by this (tests/timeouts.py); raise it on a loaded machine.
SYLLABUS_TEST_TIMEOUT_SCALE ?= 1
export SYLLABUS_TEST_TIMEOUT_SCALE

.PHONY: install train test test-fast bench bench-learning lint typecheck docs smoke

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

train: install
	$(VENV)/bin/syllabus train

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

bench: install
	$(PY) bench/sync_overhead.py
	$(PY) bench/curricula.py
	$(PY) bench/procgen_reset.py
	$(PY) bench/train_throughput.py
	$(PY) bench/rllib_throughput.py

# Do curricula help? 5 curricula x 5 seeds on CartPole and MiniGrid, eval and compare, then docs/results.md
# (hours on 2 cores; `$(PY) bench/learning/run.py --reduced` takes minutes).
bench-learning: install
	$(PY) bench/learning/run.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy syllabus

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The built wheel, installed with the runner extra in a fresh virtualenv outside the checkout,
# runs `syllabus configs/train/eval/plot` (.ci/wheel_smoke.sh).
smoke: install
	.ci/wheel_smoke.sh $(PY)
