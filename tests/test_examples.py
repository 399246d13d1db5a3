"""The example scripts run end to end with a tiny budget."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from timeouts import scaled

ROOT = Path(__file__).resolve().parent.parent


def run_example(*args: str) -> str:
    """Runs an example from the repo root; fails with its output unless it exits with 0."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=scaled(170)
    )
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.timeout(180)
@pytest.mark.slow
def test_sb3_cartpole():
    out = run_example("examples/sb3_cartpole.py", "--timesteps", "2048", "--num-envs", "2", "--quiet")
    lines = out.splitlines()
    assert "steps    mean return (last 100 episodes)" in lines
    rows = [line.split() for line in lines if re.fullmatch(r"\s*\d+\s+[\d.]+", line)]
    assert rows, out
    assert int(rows[-1][0]) >= 2048 and float(rows[-1][1]) > 0
    (curriculum_line,) = [line for line in lines if line.startswith("curriculum:")]
    assert "stats/episodes" in curriculum_line


@pytest.mark.timeout(180)
@pytest.mark.slow
def test_custom_loop():
    out = run_example(
        "examples/custom_loop.py",
        "--total-timesteps", "1024",
        "--num-envs", "2",
        "--num-steps", "64",
        "--log-every", "4",
        "--seed", "1",
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "PPO + PLR on CartPole: 2 envs, 8 updates of 128 steps"
    updates = [
        re.match(r"update\s+(\d+)/8\s+steps\s+(\d+)\s+mean return .*?([\d.]+|nan)\s+[\d.]+ s$", line)
        for line in lines
    ]
    logged = [(int(m[1]), int(m[2]), float(m[3])) for m in updates if m]
    assert [(update, steps) for update, steps, _ in logged] == [(1, 128), (4, 512), (8, 1024)]
    assert all(mean_return > 0 for *_, mean_return in logged[1:])
    (probs,) = [line for line in lines if line.startswith("task probabilities:")]
    values = [float(p) for p in re.findall(r": ([\d.]+)", probs.removeprefix("task probabilities:"))]
    assert len(values) == 7 and sum(values) == pytest.approx(1.0, abs=0.02)
    assert lines[-1].startswith("done: 1024 steps, ")
