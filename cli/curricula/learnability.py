"""``curriculum=learnability``: Learnability ``p (1 - p)`` over success rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.registry import CurriculumEntry


@dataclass
class LearnabilityConfig:
    """Learnability ``p (1 - p)`` over success rates."""

    name: str = "learnability"
    top_k: int | None = None
    eps: float = 0.05
    ema_alpha: float | None = None
    success_threshold: float | None = None


def build(run: Any, task_space: Any) -> Any:
    """[`Learnability`][syllabus.curricula.Learnability] with the config's settings."""
    from syllabus.curricula import Learnability

    cfg = run.curriculum
    return Learnability(
        task_space,
        top_k=cfg.top_k,
        eps=cfg.eps,
        ema_alpha=cfg.ema_alpha,
        success_threshold=cfg.success_threshold,
        random_seed=run.seed,
        record_stats=True,
    )


ENTRIES = (CurriculumEntry("learnability", LearnabilityConfig, build=build),)
