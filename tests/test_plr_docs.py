"""Every Python code block of docs/plr.md runs."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "plr.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_code_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "block",
    [
        pytest.param(block, marks=pytest.mark.slow, id=f"block{i}")
        if "stable_baselines3" in block  # trains PPO for a few hundred steps
        else pytest.param(block, id=f"block{i}")
        for i, block in enumerate(BLOCKS)
    ],
)
def test_code_block_runs(block):
    if "stable_baselines3" in block:
        pytest.importorskip("stable_baselines3")
    exec(compile(block, f"{DOC.name} code block", "exec"), {"__name__": "__docs__"})
