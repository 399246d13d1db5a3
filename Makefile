# Every target installs what it needs first; `make install` is quick when nothing changed.
# Installs use constraints.txt: the tested CPU torch and numpy<2 (never a CUDA build of torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
# Every time limit of the test suite is multiplied by this (tests/timeouts.py); raise it on a loaded machine.
SYLLABUS_TEST_TIMEOUT_SCALE ?= 1
export SYLLABUS_TEST_TIMEOUT_SCALE

.PHONY: install train test test-fast bench lint typecheck docs smoke

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Trains with the defaults, draws the run's plots, then prints its directory and what to run next.
train: install
	$(VENV)/bin/syllabus train
	@run="$$(ls -dt outputs/*/*/ | head -n 1)"; run="$${run%/}"; \
	$(VENV)/bin/syllabus plot "$$run" >/dev/null && \
	printf '\nRun directory: %s (config, logs, checkpoints, plots/)\n' "$$run" && \
	printf 'Next: %s/bin/syllabus eval %s   (after `source %s/bin/activate`: syllabus eval ...)\n' \
		"$(VENV)" "$$run" "$(VENV)"

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

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy syllabus

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The built wheel, installed in a fresh virtualenv outside the checkout (the library alone, then the
# runner extra, then every extra), runs `syllabus configs/train/eval/plot` and every example and
# docs Python block in the install it needs (.ci/wheel_smoke.sh).
smoke: install
	.ci/wheel_smoke.sh $(PY)
