# Every target installs what it needs first; `make install` is quick when nothing changed.
# Installs use constraints.txt: the tested CPU torch and numpy<2 (never a CUDA build of torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
# Every time limit of the test suite is multiplied by this (tests/timeouts.py); raise it on a loaded machine.
SYLLABUS_TEST_TIMEOUT_SCALE ?= 1
export SYLLABUS_TEST_TIMEOUT_SCALE

.PHONY: install train test test-fast bench bench-learning lint typecheck docs docs-figures smoke

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

# The whole suite, fast tier first: a broken basic fails in minutes, before the slow tier starts.
# Coverage counts every Python process the suite starts (pytest, the CLI runs, multiprocessing and
# Ray workers: [tool.coverage] in pyproject.toml); both tiers add to one data set in .coverage-data/,
# and tools/coverage_floor.py prints the report and fails under a package's floor.
# PYTEST_WORKERS=N runs N pytest-xdist workers (default 2), a test file each (module fixtures such as a
# local Ray start once). The suite waits on process starts, Ray and subprocess pipes about half the time
# on 2 cores; two workers fill it and keep the CPUs 93% busy, so a third gains nothing (slow tier under
# coverage: 10.3 min with 2 workers; the whole of `make test` 12.6 min).
# PYTEST_WORKERS=0 runs the tests in this one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS := -n $(PYTEST_WORKERS) --dist loadfile
# Ray's helper processes run none of our code: tools/ray_helpers_without_coverage.pth keeps coverage out of them.
test: install
	cp tools/ray_helpers_without_coverage.pth \
		"$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/a0_ray_helpers_without_coverage.pth"
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS) -m "not slow"
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS) -m slow --durations=15 -rx
	$(PY) -m coverage combine --quiet
	$(PY) tools/coverage_floor.py

test-fast: install
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

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

# mypy over the library and the runner (cli/ as the installed syllabus.cli), for Python 3.10 and 3.11.
typecheck: install
	$(PY) tools/typecheck.py

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The plots in docs/img/ come from real runs: tiny CartPole runs (20k steps each, in-process sync so
# they repeat exactly) with Domain Randomization, PLR and Learning Progress on the 5 default widths,
# each evaluated, and PLR on 40 widths; plotted by `syllabus plot`. About 3 minutes on 2 idle cores.
FIGURE_RUN := $(VENV)/bin/syllabus train --quiet sync=none seed=0 total_timesteps=20000 logger.log_interval=1024 logger.tensorboard=false
FORTY_WIDTHS := [$(shell LC_ALL=C seq -s, 0.01 0.01 0.4)]
docs-figures: install
	runs=$$(mktemp -d) && trap 'rm -rf "$$runs"' EXIT && \
	for c in dr plr lp; do $(FIGURE_RUN) curriculum=$$c hydra.run.dir=$$runs/$$c && $(VENV)/bin/syllabus eval $$runs/$$c || exit 1; done && \
	$(FIGURE_RUN) curriculum=plr 'env.tasks=$(FORTY_WIDTHS)' hydra.run.dir=$$runs/plr-40-widths && \
	$(VENV)/bin/syllabus plot $$runs/dr $$runs/plr $$runs/lp --out $$runs/cmp && \
	$(VENV)/bin/syllabus plot $$runs/plr-40-widths && \
	cp $$runs/cmp/learning_curves.png docs/img/learning_curves.png && \
	cp $$runs/plr/plots/task_distribution.png docs/img/task_distribution_plr.png && \
	cp $$runs/plr-40-widths/plots/task_distribution.png docs/img/task_distribution_plr-40-widths.png && \
	cp $$runs/plr/plots/curriculum.png docs/img/curriculum_plr.png && \
	cp $$runs/lp/plots/curriculum.png docs/img/curriculum_lp.png

# The built wheel, installed in a fresh virtualenv outside the checkout (the library alone, then the
# runner extra, then every extra), runs `syllabus configs/train/eval/plot` and every example and
# docs Python block in the install it needs (.ci/wheel_smoke.sh).
smoke: install
	.ci/wheel_smoke.sh $(PY)
