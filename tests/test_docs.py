"""Every code block of the README and the docs site runs.

Each ```python block runs on its own, as a script in a fresh interpreter in a temporary
directory (standalone, as a reader would paste it; and so that worker processes started under
spawn or forkserver, which re-import the main script, see only that block). The script keeps the
block on its lines of the Markdown file, so a traceback's line numbers point into the page. A
block that only includes a file (``--8<-- "examples/x.py"``) is not run here: the file must be an
example that a test runs (e.g. ``tests/test_examples.py``). Blocks tagged ```py are shown, not run:
the original Syllabus's code ("before") on the migration page. In ```bash blocks, every ``syllabus`` and ``make``
command must name a real command, make target and config group options (the commands themselves
are exercised by the CLI tests).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from timeouts import scaled

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')
# Blocks that start Ray, worker processes or torch (SB3), or train: seconds each on an idle machine.
SLOW_CODE = re.compile(r"^import ray$|stable_baselines3|torch|Process\(|AsyncVectorEnv", re.M)


@dataclass
class Block:
    """One fenced code block: its language, first line (1-based, in the page) and dedented text."""

    lang: str
    line: int
    text: str

    @property
    def includes(self) -> list[re.Match[str]]:
        """The snippet includes, when the block is nothing but includes; else an empty list."""
        lines = [line.strip() for line in self.text.strip().splitlines()]
        matches = [INCLUDE.match(line) for line in lines]
        return [m for m in matches if m] if lines and all(matches) else []


def code_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("body")) + 1
        blocks.append(Block(match["lang"], line, textwrap.dedent(match["body"])))
    return blocks


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def runnable_blocks() -> list:
    params = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang == "python" and not block.includes:
                marks = [pytest.mark.slow] if SLOW_CODE.search(block.text) else []
                params.append(pytest.param(page, block, id=f"{page_id(page)}:{block.line}", marks=marks))
    return params


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("page", "block"), runnable_blocks())
def test_python_block_runs(page: Path, block: Block, tmp_path: Path) -> None:
    script = tmp_path / f"{page.stem.replace('-', '_')}_md_{block.line}.py"
    script.write_text("\n" * (block.line - 1) + block.text)  # the block on the page's line numbers
    # A block that starts Ray gets a private one: a token in the environment (none written under $HOME),
    # no auto-discovery of another cluster on the machine, and a short temp dir for its sockets.
    env = {**os.environ, "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_ADDRESS": ""}
    with tempfile.TemporaryDirectory(prefix="ray-", dir="/tmp") as ray_tmp:
        env["RAY_TMPDIR"] = ray_tmp
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=scaled(220),
            env=env,
        )
    assert result.returncode == 0, (
        f"{page_id(page)}:{block.line}: the block failed (line numbers are the page's)\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )


def test_every_page_has_checked_code():
    """Every python block of every page is either run above or an include of a tested example."""
    tested_examples = "\n".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang == "python" and block.includes:
                for include in block.includes:
                    path = include["path"]
                    assert path.startswith("examples/"), f"{page_id(page)}:{block.line} includes {path}"
                    assert (ROOT / path).is_file(), f"{page_id(page)}:{block.line}: {path} does not exist"
                    assert path in tested_examples, f"{path} (in {page_id(page)}) is not run by any test"
                    if include["section"]:
                        marker = f"# --8<-- [start:{include['section']}]"
                        assert marker in (ROOT / path).read_text(), (
                            f"{path} has no section {include['section']}"
                        )


def test_block_parser_finds_indented_includes_and_line_numbers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        'text\n\n```python\nx = 1\n```\n\n1. step\n\n    ```python\n    --8<-- "examples/a.py:s"\n    ```\n'
    )
    first, second = code_blocks(page)
    assert (first.line, first.text, first.includes) == (4, "x = 1\n", [])
    assert second.line == 10 and second.includes[0]["path"] == "examples/a.py"
    assert second.includes[0]["section"] == "s"


COMMANDS = {"train", "eval", "compare", "plot", "configs"}


def shell_commands() -> list:
    """``(page, line, words)`` of every ``syllabus`` and ``make`` command in the pages' bash blocks."""
    found = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang != "bash":
                continue
            for offset, text in enumerate(block.text.splitlines()):
                for command in text.split("#", 1)[0].split("&&"):
                    words = command.split()
                    if words and words[0] in ("syllabus", "make"):
                        found.append((page_id(page), block.line + offset, words))
    return found


def test_shell_commands_name_real_commands_targets_and_config_options():
    """The CLI lines of the docs use existing commands, make targets and config group options."""
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    groups = {p.name for p in (ROOT / "configs").iterdir() if p.is_dir()}
    commands = shell_commands()
    assert len(commands) > 10
    for where, line, words in commands:
        if words[0] == "make":
            assert set(words[1:]) <= targets, f"{where}:{line}: no make target {words[1:]}"
            continue
        assert words[1] in COMMANDS, f"{where}:{line}: {words[1]} is not a syllabus command"
        for word in words[2:]:
            group, _, options = word.lstrip("+~").partition("=")
            if group in groups and options:
                for option in options.split(","):
                    path = ROOT / "configs" / group / f"{option}.yaml"
                    assert path.is_file(), f"{where}:{line}: {group}={option} is not a config option"


SPHINX_ROLE = re.compile(r":(class|func|meth|attr|mod|exc|data|obj):`")


def test_docstrings_cross_reference_with_autorefs_not_sphinx_roles():
    """mkdocstrings renders ``[`Name`][syllabus.module.Name]`` as a link; a Sphinx role shows as literal text."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("syllabus", "cli")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SPHINX_ROLE.search(line)
    ]
    assert not found, "write [`Name`][syllabus.module.Name] instead of Sphinx roles:\n" + "\n".join(found)


def test_architecture_page_names_every_module_and_no_other():
    """docs/architecture.md gives every module of the library and the runner its job, and names no module
    that does not exist."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    modules = {
        path.relative_to(ROOT).as_posix()
        for package in ("syllabus", "cli")
        for path in (ROOT / package).rglob("*.py")
    }
    named = set(re.findall(r"^\| `((?:syllabus|cli)/[\w/]+\.py)` \|", page, flags=re.M))
    assert sorted(modules - named) == [], "modules without a line in docs/architecture.md"
    assert sorted(named - modules) == [], "docs/architecture.md names modules that do not exist"
