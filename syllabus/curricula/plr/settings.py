"""Settings of Prioritized Level Replay: its constructor arguments, checked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syllabus.core.checks import check_number
from syllabus.curricula.plr.reference import REFERENCE_STRATEGIES
from syllabus.curricula.plr.sampling import TRANSFORMS
from syllabus.curricula.plr.scoring import STRATEGIES

SCHEDULES = ("proportionate", "fixed")
MODES = ("corrected", "reference")

# Checked in this order, so that the first bad argument is the one reported.
_CHOICES: dict[str, Sequence[str]] = {
    "strategy": STRATEGIES,
    "score_transform": TRANSFORMS,
    "staleness_transform": TRANSFORMS,
    "replay_schedule": SCHEDULES,
    "mode": MODES,
}
# name: (low, high, whether low itself is excluded)
_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, math.inf, True),
    "staleness_temperature": (0.0, math.inf, True),
    "alpha": (0.0, 1.0, True),
    "staleness_coef": (0.0, 1.0, False),
    "rho": (0.0, 1.0, False),
    "replay_prob": (0.0, 1.0, False),
    "gamma": (0.0, 1.0, False),
    "gae_lambda": (0.0, 1.0, False),
    "eps": (0.0, 1.0, False),
}


@dataclass(frozen=True)
class Settings:
    """The arguments of [`PrioritizedLevelReplay`][syllabus.curricula.plr.plr.PrioritizedLevelReplay]
    (which documents them), checked, with the numbers as floats.

    Raises:
        ValueError: If a name is not one of its choices, a number is out of its range, or the
            strategy does not exist in reference mode.
    """

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
    gamma: float = 0.999
    gae_lambda: float = 0.95
    robust: bool = False
    eps: float = 0.05
    mode: str = "corrected"

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            _check_choice(name, getattr(self, name), choices)
        if self.mode == "reference" and self.strategy not in REFERENCE_STRATEGIES:
            raise ValueError(
                f"strategy={self.strategy!r} does not exist in the reference implementation; with "
                f"mode='reference' choose one of {', '.join(REFERENCE_STRATEGIES)}"
            )
        for name, (low, high, low_open) in _RANGES.items():
            object.__setattr__(
                self, name, check_number(name, getattr(self, name), low, high, open_low=low_open)
            )
        object.__setattr__(self, "robust", bool(self.robust))

    @property
    def linear_staleness(self) -> bool:
        """Whether staleness weights are the staleness itself (sampled in O(log n))."""
        return self.staleness_transform == "power" and self.staleness_temperature == 1.0


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(choices)}")
