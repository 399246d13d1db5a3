"""Packaging: every package is installed, configs ship as package data, the console script without the runner.

The wheel itself is built, installed outside the checkout and run by ``.ci/wheel_smoke.sh``
(``make smoke``); these checks are the fast part that needs no build.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from timeouts import scaled

import syllabus

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def installed_name(folder: Path) -> str:
    """The dotted name a repository folder installs as, following pyproject's package-dir mapping."""
    relative = folder.relative_to(ROOT).parts
    mappings = sorted(SETUPTOOLS.get("package-dir", {}).items(), key=lambda item: -len(Path(item[1]).parts))
    for package, directory in mappings:  # the most specific mapping first
        mapped = Path(directory).parts
        if relative[: len(mapped)] == mapped:
            return ".".join([package, *relative[len(mapped) :]])
    return ".".join(relative)


def test_every_package_folder_is_in_the_explicit_packages_list():
    folders = [
        init.parent
        for top in ("syllabus", "cli", "configs")
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    ]
    assert folders, "no package folders found"
    missing = sorted({installed_name(folder) for folder in folders} - set(SETUPTOOLS["packages"]))
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_nothing_installs_as_a_top_level_cli_or_configs():
    tops = {package.split(".")[0] for package in SETUPTOOLS["packages"]}
    assert tops == {"syllabus", "hydra_plugins"}  # hydra_plugins: Hydra's namespace for launcher plugins


def test_every_config_file_is_package_data():
    """The wheel takes configs/**/*.yaml; a config file with another extension would be left out."""
    patterns = SETUPTOOLS["package-data"]["syllabus.configs"]
    assert patterns == ["**/*.yaml"]
    files = [p for p in (ROOT / "configs").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    others = [str(p.relative_to(ROOT)) for p in files if p.suffix != ".yaml" and p.name != "__init__.py"]
    assert not others, f"not shipped in the wheel: {others}"
    assert (ROOT / "configs" / "train.yaml") in files


def test_version_is_defined_once():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "syllabus.__version__"}
    assert importlib.metadata.version("syllabus-curriculum") == syllabus.__version__


def test_typed_package_marker_ships():
    assert (ROOT / "syllabus" / "py.typed").is_file()
    assert "py.typed" in SETUPTOOLS["package-data"]["syllabus"]


@pytest.mark.timeout(60)
def test_console_script_without_the_runner_extra_names_it(tmp_path):
    """With typer missing, `syllabus train` prints one line naming the extra and exits 2."""
    script = Path(sys.executable).parent / "syllabus"
    assert script.is_file(), f"console script not installed next to {sys.executable}"
    # sitecustomize runs at interpreter start: it makes `typer` unimportable, as if not installed.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['typer'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [str(script), "train"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=scaled(50)
    )
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "typer" in lines[0] and 'pip install "syllabus-curriculum[runner]"' in lines[0]
