"""``curriculum=dr``: domain randomization, uniformly random tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.registry import CurriculumEntry


@dataclass
class DomainRandomizationConfig:
    """Uniformly random tasks."""

    name: str = "dr"


def build(run: Any, task_space: Any) -> Any:
    """[`DomainRandomization`][syllabus.curricula.DomainRandomization] over the env's tasks."""
    from syllabus.curricula import DomainRandomization

    return DomainRandomization(task_space, random_seed=run.seed, record_stats=True)


ENTRIES = (CurriculumEntry("dr", DomainRandomizationConfig, build=build),)
