"""``curriculum=plr``, ``robust_plr`` and ``plr_reference``: Prioritized Level Replay, fed by the learner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.registry import CurriculumEntry


@dataclass
class PLRConfig:
    """Prioritized Level Replay (``robust: true`` for Robust PLR)."""

    name: str = "plr"
    strategy: str = "value_l1"
    score_transform: str = "rank"
    temperature: float = 0.1
    staleness_coef: float = 0.1
    staleness_transform: str = "power"
    staleness_temperature: float = 1.0
    alpha: float = 1.0
    replay_schedule: str = "proportionate"
    rho: float = 1.0
    replay_prob: float = 0.5
    eps: float = 0.05
    robust: bool = False
    mode: str = "corrected"
    gamma: float = 0.99
    gae_lambda: float = 0.95


def build(run: Any, task_space: Any) -> Any:
    """[`PrioritizedLevelReplay`][syllabus.curricula.PrioritizedLevelReplay] with the config's settings."""
    from syllabus.curricula import PrioritizedLevelReplay

    params = {k: v for k, v in vars(run.curriculum).items() if k != "name"}
    return PrioritizedLevelReplay(task_space, **params, random_seed=run.seed, record_stats=True)


ENTRIES = tuple(
    CurriculumEntry(name, PLRConfig, build=build, learner_updates=True)
    for name in ("plr", "robust_plr", "plr_reference")
)
