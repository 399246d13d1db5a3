"""Helpers of the runner tests: run the ``syllabus`` CLI in a subprocess, read a run's CSV logs."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import psutil
from timeouts import scaled

ROOT = Path(__file__).resolve().parent.parent
SYLLABUS = [sys.executable, "-c", "from syllabus.cli.app import main; main()"]

# A CartPole run of a few seconds: 2 envs, 2 rollouts of 2 x 128 steps.
TINY = ["total_timesteps=512", "num_envs=2", "learner.n_steps=128", "logger.log_interval=256"]


def cli_env() -> dict[str, str]:
    """The environment of CLI subprocesses: no full Hydra tracebacks, no colours."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(NO_COLOR="1", TERM="dumb")
    return env


def syllabus(
    *args: str,
    cwd: Path,
    timeout: float | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Runs ``syllabus ARGS`` in ``cwd``; with ``check``, fails with its output unless it exits with 0.

    ``timeout`` is already scaled by the caller (``scaled(N)``); the default is ``scaled(150)``.
    ``env`` defaults to [`cli_env`][]; a test that sets its own starts from ``cli_env()``.
    """
    result = subprocess.run(
        [*SYLLABUS, *args],
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=scaled(150) if timeout is None else timeout,
    )
    if check:
        assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts keyed by its header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def header(path: Path) -> list[str]:
    """The header row of a CSV file."""
    with open(path, newline="") as f:
        return next(csv.reader(f))


def live_session_processes(session_id: int) -> list[psutil.Process]:
    """Live processes of a session (zombies have exited; init reaps them in its own time)."""
    out = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == session_id and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out
