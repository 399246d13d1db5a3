#!/usr/bin/env bash
# Wheel smoke test: what a new user gets from `pip install syllabus-curriculum` and its extras.
# Builds the wheel and installs it (with the tested torch/numpy from constraints.txt) into a fresh
# virtualenv in a temporary directory outside the checkout, in three steps; after each, runs every
# example and docs Python block that needs no more than that install (.ci/smoke_examples.py):
#   1. the library alone (numpy, gymnasium);
#   2. the runner extra: also `syllabus --version`, `train --help`, `configs`, a tiny `train`, `eval`, `plot`;
#   3. every extra but dev and docs (Ray, RLlib, Procgen, MiniGrid, ...).
# Usage: .ci/wheel_smoke.sh [PYTHON]   (default: python3; `make smoke` passes the project's venv,
# whose pytest reads the docs' blocks as tests/test_docs.py does)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${1:-python3}"
case "$PYTHON" in */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")";; esac  # used after cd
START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/syllabus-wheel-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
case "$WORK/" in "$REPO"/*) echo "wheel smoke: $WORK is inside the checkout" >&2; exit 1;; esac

step() { printf '\n== wheel smoke [%3ds]: %s\n' "$((SECONDS - START))" "$*"; }

step "build the wheel"
"$PYTHON" -m build --wheel --outdir "$WORK/dist" "$REPO" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL="$(ls "$WORK"/dist/*.whl)"
echo "$(basename "$WHEEL")"

step "check the wheel's contents"
"$PYTHON" - "$WHEEL" <<'PY'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
files = [n for n in names if not n.endswith("/")]
tops = sorted({n.split("/")[0] for n in files if ".dist-info/" not in n})
configs = [n for n in files if n.startswith("syllabus/configs/") and n.endswith(".yaml")]
print(f"{len(files)} files; top-level: {', '.join(tops)}; {len(configs)} config files under syllabus/configs/")
problems = []
if tops != ["hydra_plugins", "syllabus"]:
    problems.append(f"top-level entries other than syllabus/ and hydra_plugins/: {tops}")
if any(n.startswith("hydra_plugins/") and n.endswith("/__init__.py") and n.count("/") == 1 for n in files):
    problems.append("hydra_plugins/__init__.py ships: Hydra's plugin namespace must stay a namespace package")
if "hydra_plugins/syllabus_launchers/ray_launcher.py" not in files:
    problems.append("the Ray launcher plugin (hydra_plugins/syllabus_launchers/ray_launcher.py) is missing")
if "syllabus/configs/train.yaml" not in configs:
    problems.append("syllabus/configs/train.yaml is missing")
for required in ("syllabus/py.typed", "syllabus/cli/app.py", "syllabus/cli/entry.py"):
    if required not in files:
        problems.append(f"{required} is missing")
if problems:
    sys.exit("wheel smoke: " + "; ".join(problems))
PY

VENV_PY="$WORK/venv/bin/python"
install() {  # install WHAT: the wheel with extras, into the smoke virtualenv
    "$VENV_PY" -m pip install --quiet -c "$REPO/constraints.txt" "$1" >>"$WORK/pip.log" 2>&1 \
        || { cat "$WORK/pip.log"; exit 1; }
}
run_scripts() {  # run_scripts STAGE: the examples and docs blocks of that install
    "$PYTHON" "$REPO/.ci/smoke_examples.py" "$1" "$VENV_PY" "$WORK/scripts"
}

step "install the library alone into a fresh virtualenv in $WORK"
"$PYTHON" -m venv "$WORK/venv"
"$VENV_PY" -m pip install --quiet --upgrade pip >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; exit 1; }
install "$WHEEL"
"$VENV_PY" -m pip show syllabus-curriculum | grep -E '^(Name|Version|Location)'

cd "$WORK"
unset PYTHONPATH  # nothing from the checkout
step "examples and docs blocks of the library alone"
run_scripts base

step "add the runner extra"
install "${WHEEL}[runner]"
SYLLABUS="$WORK/venv/bin/syllabus"
step "syllabus --version; syllabus train --help"
"$SYLLABUS" --version
"$SYLLABUS" train --help | grep "Config groups" >/dev/null || { echo "wheel smoke: train --help lists no config groups" >&2; exit 1; }
step "syllabus configs"
"$SYLLABUS" configs
step "syllabus train experiment=quick"
"$SYLLABUS" train experiment=quick hydra.run.dir=run --quiet
test -f run/checkpoints/final/model.zip || { echo "wheel smoke: no final checkpoint in $WORK/run" >&2; exit 1; }
step "syllabus eval run -n 1"
"$SYLLABUS" eval run -n 1
test -f run/eval/final-greedy-seed12345.json && test -f run/eval/final-sampled-seed12345.json
step "syllabus compare run"
"$SYLLABUS" compare run --reps 200
test -f run/compare/compare.md && test -f run/compare/intervals.png
step "Hydra finds the Ray launcher plugin in the wheel"
"$SYLLABUS" train --info plugins >plugins.txt  # to a file: grep -q would end the pipe early (pipefail)
grep -qw "RayLauncher" plugins.txt \
  || { echo "wheel smoke: Hydra does not list the Ray launcher plugin" >&2; exit 1; }
step "syllabus plot run"
"$SYLLABUS" plot run
test -f run/plots/learning_curves.png && test -f run/plots/task_distribution.png
step "examples and docs blocks of the runner install"
run_scripts runner

EXTRAS="$("$PYTHON" - "$WHEEL" <<'PY'
import sys
import zipfile
from email.parser import Parser

wheel = zipfile.ZipFile(sys.argv[1])
(metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
extras = Parser().parsestr(wheel.read(metadata).decode()).get_all("Provides-Extra") or []
print(",".join(e for e in extras if e not in ("dev", "docs")))
PY
)"
step "add every extra but dev and docs: $EXTRAS"
install "${WHEEL}[$EXTRAS]"
step "examples and docs blocks that need them"
run_scripts all

step "syllabus train env=connect_four curriculum=pfsp (self-play, tiny), eval, plot"
"$SYLLABUS" train env=connect_four curriculum=pfsp num_envs=2 total_timesteps=512 learner.n_steps=64 \
    learner.n_minibatches=2 curriculum.snapshot_interval=128 logger.tensorboard=false hydra.run.dir=c4 --quiet
test -f c4/checkpoints/final/curriculum.pkl || { echo "wheel smoke: no final checkpoint in $WORK/c4" >&2; exit 1; }
"$SYLLABUS" eval c4 -n 2
"$SYLLABUS" plot c4
test -f c4/plots/self_play.png
step "done in $((SECONDS - START)) s"
