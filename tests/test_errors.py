"""One error module per layer: the library's errors are in syllabus.core.errors, the runner's in
syllabus.cli.errors, and every other import path gives the same class."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import syllabus.cli.errors as cli_errors

import syllabus.core.errors as core_errors

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"syllabus": ROOT / "syllabus" / "core" / "errors.py", "cli": ROOT / "cli" / "errors.py"}
# Error classes still defined beside the code that raises them; the set may only shrink.
NOT_MOVED_YET: set[tuple[str, str]] = set()


def _exception_classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and (node.name.endswith("Error") or node.name.endswith("Exception"))
    ]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_error_class_is_in_its_layers_error_module(layer):
    found = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in sorted((ROOT / layer).rglob("*.py"))
        if path != LAYERS[layer]
        for name in _exception_classes(path)
    }
    assert found - NOT_MOVED_YET == set(), "define these in " + LAYERS[layer].relative_to(ROOT).as_posix()
    assert all(name not in _exception_classes(LAYERS[layer]) for _, name in NOT_MOVED_YET)


def test_each_library_error_is_one_class_under_every_public_path():
    import syllabus.core
    import syllabus.integrations.sb3_vec_env
    import syllabus.task_space
    import syllabus.task_space.base

    assert syllabus.core.EnvWorkerError is syllabus.integrations.sb3_vec_env.EnvWorkerError
    assert syllabus.core.EnvWorkerError is core_errors.EnvWorkerError
    assert syllabus.task_space.TaskSpaceError is syllabus.task_space.base.TaskSpaceError
    assert syllabus.task_space.TaskSpaceError is syllabus.core.TaskSpaceError is core_errors.TaskSpaceError


def test_a_damaged_checkpoint_is_a_run_directory_mistake():
    from syllabus.cli.run_dir import CheckpointError

    assert CheckpointError is cli_errors.CheckpointError
    assert issubclass(CheckpointError, cli_errors.RunDirError)
    assert issubclass(CheckpointError, cli_errors.USER_ERRORS)
