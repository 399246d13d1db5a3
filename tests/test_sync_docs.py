"""Every code block of docs/sync.md runs as written, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from ray_fixtures import AUTH_TOKEN

DOC = Path(__file__).resolve().parent.parent / "docs" / "sync.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def _params() -> list:
    params = []
    for i, code in enumerate(BLOCKS):
        marks = [pytest.mark.slow] if "import ray" in code else []
        params.append(pytest.param(code, id=f"block-{i}", marks=marks))
    return params


def test_the_page_has_code_blocks():
    assert len(BLOCKS) == 3


@pytest.mark.timeout(120)
@pytest.mark.parametrize("code", _params())
def test_code_block_runs(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    env = {**os.environ, "RAY_AUTH_TOKEN": AUTH_TOKEN, "RAY_ADDRESS": ""}
    with tempfile.TemporaryDirectory(prefix="ray-", dir="/tmp") as ray_tmp:  # short: Ray's sockets live there
        env["RAY_TMPDIR"] = ray_tmp
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=110, env=env, cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "the example prints what it did"
