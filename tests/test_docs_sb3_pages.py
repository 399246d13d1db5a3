"""The Python code blocks of docs/learners.md and docs/environments.md run as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["learners.md", "environments.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, int, str]]:
    return [
        (page, i, code) for page in PAGES for i, code in enumerate(BLOCK.findall((DOCS / page).read_text()))
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("page", "index", "code"), _blocks(), ids=lambda v: str(v)[:20])
def test_python_blocks_run(page, index, code, tmp_path, capsys):
    script = tmp_path / f"{Path(page).stem}_{index}.py"
    script.write_text(code)
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out or "print" not in code
