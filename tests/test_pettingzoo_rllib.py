"""RLlib's multi-agent env runners over a synced PettingZoo env (examples/rllib_multiagent.py):
exactly one curriculum update per agent per episode RLlib finished."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from timeouts import scaled

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rllib_multiagent_example_updates_once_per_agent_and_episode():
    result = subprocess.run(
        [sys.executable, "examples/rllib_multiagent.py", "--iterations", "1", "--batch-size", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(590),
    )
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert re.search(r"iteration +1 +mean return +-?[\d.]+ +agent_0 ", result.stdout), result.stdout
    match = re.search(
        r"episodes: (\d+) finished in RLlib, (\d+) episode updates in the curriculum \(3 agents\)",
        result.stdout,
    )
    assert match, result.stdout
    episodes, updates = int(match[1]), int(match[2])
    assert episodes >= 300 // 25
    assert updates == 3 * episodes
