"""``curriculum=sequential``: stages over growing prefixes of the task space."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import CurriculumEntry


@dataclass
class SequentialConfig:
    """Stages over growing prefixes of the task space."""

    name: str = "sequential"
    stage_fractions: list[float] = field(default_factory=lambda: [0.4, 0.7, 1.0])
    stopping_conditions: list[str] = field(default_factory=lambda: ["steps>=15000", "steps>=15000"])
    return_window: int = 100


def check(cfg: SequentialConfig) -> None:
    """Every stage fraction in (0, 1]."""
    for i, fraction in enumerate(cfg.stage_fractions):
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"curriculum.stage_fractions[{i}] must be in (0, 1], got {fraction}")


def build(run: Any, task_space: Any) -> Any:
    """[`SequentialCurriculum`][syllabus.curricula.SequentialCurriculum] whose stages are prefixes of the tasks."""
    from syllabus.curricula import SequentialCurriculum

    cfg, n = run.curriculum, task_space.num_tasks
    stages = [[task_space.decode(j) for j in range(math.ceil(f * n))] for f in cfg.stage_fractions]
    return SequentialCurriculum(
        stages,
        task_space,
        list(cfg.stopping_conditions),
        return_window=cfg.return_window,
        random_seed=run.seed,
        record_stats=True,
    )


ENTRIES = (CurriculumEntry("sequential", SequentialConfig, check, build=build),)
