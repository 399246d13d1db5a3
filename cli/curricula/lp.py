"""``curriculum=lp``: Learning Progress over success rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.registry import CurriculumEntry


@dataclass
class LearningProgressConfig:
    """Learning Progress over success rates."""

    name: str = "lp"
    ema_alpha: float = 0.1
    p_theta: float = 0.1
    eps: float = 0.05
    success_threshold: float | None = None


def build(run: Any, task_space: Any) -> Any:
    """[`LearningProgress`][syllabus.curricula.LearningProgress] with the config's settings."""
    from syllabus.curricula import LearningProgress

    cfg = run.curriculum
    return LearningProgress(
        task_space,
        ema_alpha=cfg.ema_alpha,
        p_theta=cfg.p_theta,
        eps=cfg.eps,
        success_threshold=cfg.success_threshold,
        random_seed=run.seed,
        record_stats=True,
    )


ENTRIES = (CurriculumEntry("lp", LearningProgressConfig, build=build),)
