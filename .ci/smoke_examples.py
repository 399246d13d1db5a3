"""Runs every example script and every Python block of the docs in a wheel install (the wheel smoke test).

Each script runs with the installed package only (a fresh directory outside the checkout, no
``PYTHONPATH``), in the install its imports need: ``base`` (the library alone: numpy, gymnasium),
``runner`` (the ``runner`` extra, which holds ``sb3`` and ``tensorboard``) or ``all`` (every extra).
The install is read from the code, so a new page or example is picked up without a list to update:
  - ``stable_baselines3``/``torch``/``syllabus.integrations.sb3``: the ``sb3`` extra (in ``runner``);
  - ``hydra``/``typer``/``omegaconf``/``matplotlib``/``syllabus.cli``: ``runner``;
  - ``ray``, RLlib, Procgen, MiniGrid, or any other package: ``all``.
An example runs with the arguments of its ``# smoke-args: ...`` line (keep it to seconds), else none.
Blocks are found as ``tests/test_docs.py`` finds them (run with the project's dev Python, which has
pytest); blocks that only include an example are covered by running the example.

Usage: smoke_examples.py STAGE WHEEL_PYTHON WORKDIR   (prints one line per script; exit 1 if any failed)
"""

from __future__ import annotations

import ast
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_docs import PAGES, code_blocks, page_id  # noqa: E402

STAGES = ("base", "runner", "all")
RUNNER_EXTRAS = {"runner", "sb3", "tensorboard"}
LIBRARY_MODULES = {"syllabus", "numpy", "gymnasium"}
EXTRA_OF_MODULE = {
    "stable_baselines3": "sb3",
    "torch": "sb3",
    "syllabus.integrations.sb3": "sb3",
    "syllabus.integrations.sb3_vec_env": "sb3",
    "syllabus.integrations.sb3_impala": "sb3",
    "syllabus.integrations.sb3_robust_ppo": "sb3",
    "syllabus.integrations.sb3_pettingzoo": "other",
    "hydra": "runner",
    "omegaconf": "runner",
    "typer": "runner",
    "matplotlib": "runner",
    "syllabus.cli": "runner",
}
# Library names that import an optional package when used.
RAY_NAMES = re.compile(r"\b(RayVecEnv|make_ray_curriculum|RaySyncWrapper|RayPettingZooSyncWrapper)\b")
# Names syllabus.core loads from PettingZoo when used.
PETTINGZOO_NAMES = re.compile(r"\bPettingZoo\w*")
SMOKE_ARGS = re.compile(r"^# smoke-args:(.*)$", re.M)
TIMEOUT = 600


@dataclass
class Script:
    """One script to run: where it comes from, its code and its command-line arguments."""

    name: str
    code: str
    args: list[str]


def needed_extras(code: str) -> set[str]:
    """The extras the code's imports need (``"other"`` for a package no known extra names)."""
    extras = {"ray"} if RAY_NAMES.search(code) else set()
    if PETTINGZOO_NAMES.search(code):
        extras.add("other")
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            known = [
                extra for module, extra in EXTRA_OF_MODULE.items() if f"{name}.".startswith(f"{module}.")
            ]
            if known:
                extras.update(known)
            elif top in sys.stdlib_module_names or top == "__future__":
                continue
            elif top in LIBRARY_MODULES:
                if name.startswith(
                    (
                        "syllabus.envs.procgen",
                        "syllabus.envs.minigrid",
                        "syllabus.envs.mpe",
                        "syllabus.envs.connect_four",
                        "syllabus.integrations.rllib",
                    )
                ):
                    extras.add("other")
            else:
                extras.add("other")
    return extras


def stage_of(code: str) -> str:
    """The smallest install that holds what ``code`` imports."""
    extras = needed_extras(code)
    if not extras:
        return "base"
    return "runner" if extras <= RUNNER_EXTRAS else "all"


def scripts() -> list[Script]:
    """Every example and every runnable docs block."""
    found = []
    for path in sorted((ROOT / "examples").glob("*.py")):
        code = path.read_text()
        args = shlex.split(SMOKE_ARGS.search(code)[1]) if SMOKE_ARGS.search(code) else []
        found.append(Script(f"examples/{path.name}", code, args))
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang == "python" and not block.includes:
                # the block on the page's line numbers, so a traceback points into the page
                found.append(
                    Script(f"{page_id(page)}:{block.line}", "\n" * (block.line - 1) + block.text, [])
                )
    return found


def run(script: Script, python: str, workdir: Path) -> tuple[bool, str]:
    """Runs ``script`` with ``python`` in a fresh directory under ``workdir``; returns (passed, output)."""
    cwd = Path(tempfile.mkdtemp(prefix="script-", dir=workdir))
    file = cwd / re.sub(r"\W", "_", script.name.removesuffix(".py")).strip("_")
    file = file.with_suffix(".py")
    file.write_text(script.code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # A script that starts Ray gets a private one: a token in the environment, no other cluster, short paths.
    env.update(RAY_AUTH_TOKEN=secrets.token_hex(16), RAY_ADDRESS="")
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env["RAY_TMPDIR"] = ray_tmp
    try:
        result = subprocess.run(
            [python, file.name, *script.args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        return result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    except subprocess.TimeoutExpired:
        return False, f"no exit within {TIMEOUT} s"
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)


def main() -> None:
    stage, python, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if stage not in STAGES:
        sys.exit(f"smoke_examples.py: stage {stage!r}; valid stages: {', '.join(STAGES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    selected = [s for s in scripts() if stage_of(s.code) == stage]
    failed = []
    for script in selected:
        start = time.monotonic()
        passed, output = run(script, python, workdir)
        print(
            f"  {'ok  ' if passed else 'FAIL'} {time.monotonic() - start:5.1f} s  {script.name}", flush=True
        )
        if not passed:
            failed.append(script.name)
            print(output, flush=True)
    print(f"{len(selected) - len(failed)}/{len(selected)} scripts of the {stage} install ran")
    if failed:
        sys.exit(f"wheel smoke: failed in the {stage} install: {', '.join(failed)}")


if __name__ == "__main__":
    main()
