"""Type-check every installed package (the library and the runner) with mypy, for each supported Python.

The runner lives in the repository's ``cli/`` but installs as ``syllabus.cli`` (pyproject's
``[tool.setuptools] package-dir``), so ``mypy cli`` could not resolve its ``syllabus.cli.*`` imports.
This script lays the packages out as the wheel installs them: a temporary tree with one folder per
package of ``[tool.setuptools] packages`` and a symlink to each of its repository modules. mypy checks
that tree once per Python version (the oldest one ``requires-python`` allows, then the config's), and
its messages name the repository files (``cli/train_command.py``, not the tree's
``syllabus/cli/train_command.py``).

Usage: ``python tools/typecheck.py`` (``make typecheck``); exits non-zero if any run finds an error.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
# requires-python = ">=3.10": the oldest version is checked first, so a newer-only construct
# (typing.Self outside TYPE_CHECKING, tomllib, ExceptionGroup...) fails the gate.
PYTHON_VERSIONS = ("3.10", "3.11")


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The repository folder a package installs from, by the most specific ``package-dir`` mapping."""
    parts = package.split(".")
    for size in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:size]))
        if mapped is not None:
            return ROOT / mapped / Path(*parts[size:])
    return ROOT / Path(*parts)


def build_tree(tree: Path, packages: list[str], package_dir: dict[str, str]) -> dict[str, str]:
    """Lays out every package under ``tree`` as installed, with each module a symlink to its file.

    Args:
        tree: An empty folder.
        packages: The installed packages (``[tool.setuptools] packages``).
        package_dir: Their folders where not their dotted name (``[tool.setuptools] package-dir``).

    Returns:
        Each module's path relative to ``tree`` mapped to its path relative to the repository.
    """
    repository_path: dict[str, str] = {}
    for package in packages:
        folder = package_folder(package, package_dir)
        target = tree / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in sorted(folder.glob("*.py")):
            (target / module.name).symlink_to(module)
            repository_path[str((target / module.name).relative_to(tree))] = str(module.relative_to(ROOT))
    return repository_path


def roots(packages: list[str]) -> list[str]:
    """The packages that no other listed package contains (mypy's ``-p`` checks subpackages itself)."""
    return [p for p in packages if not any(p.startswith(other + ".") for other in packages)]


def run_mypy(tree: Path, packages: list[str], python_version: str, repository_path: dict[str, str]) -> int:
    """Runs mypy over the tree for one Python version, printing its messages with repository paths.

    Returns:
        mypy's exit status.
    """
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--python-version", python_version, "--cache-dir", str(ROOT / ".mypy_cache")]
    for package in roots(packages):
        command += ["-p", package]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    print(f"mypy --python-version {python_version}:", flush=True)
    for line in result.stdout.splitlines():
        path, colon, rest = line.partition(":")
        print(f"{repository_path.get(path, path)}{colon}{rest}")
    sys.stderr.write(result.stderr)
    return result.returncode


def main() -> int:
    """Type-checks the installed layout once per Python version; returns the worst exit status."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages: list[str] = setuptools["packages"]
    with tempfile.TemporaryDirectory(prefix="syllabus-typecheck-") as folder:
        tree = Path(folder)
        repository_path = build_tree(tree, packages, setuptools.get("package-dir", {}))
        statuses = [run_mypy(tree, packages, version, repository_path) for version in PYTHON_VERSIONS]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main())
