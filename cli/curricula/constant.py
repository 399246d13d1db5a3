"""``curriculum=constant``: one task, chosen by its index in the task space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import CurriculumEntry


@dataclass
class ConstantConfig:
    """One task, chosen by its index in the task space."""

    name: str = "constant"
    task_index: int = 0


def build(run: Any, task_space: Any) -> Any:
    """[`Constant`][syllabus.curricula.Constant] over the task at ``task_index``."""
    from syllabus.curricula import Constant

    index, n = run.curriculum.task_index, task_space.num_tasks
    if not 0 <= index < n:
        raise ConfigError(f"curriculum.task_index must be in [0, {n - 1}] (the env's tasks), got {index}")
    return Constant(task_space.decode(index), task_space, random_seed=run.seed, record_stats=True)


ENTRIES = (CurriculumEntry("constant", ConstantConfig, build=build),)
