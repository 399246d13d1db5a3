"""``env=procgen``: a Procgen game whose task is a level seed.

The names are checked against static lists, so that a typo is reported before procgen is imported
(a test checks the lists against the installed package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.config_checks import check_at_least, one_of
from syllabus.cli.envs import import_env
from syllabus.cli.registry import EnvEntry

PROCGEN_GAMES = (
    "bigfish",
    "bossfight",
    "caveflyer",
    "chaser",
    "climber",
    "coinrun",
    "dodgeball",
    "fruitbot",
    "heist",
    "jumper",
    "leaper",
    "maze",
    "miner",
    "ninja",
    "plunder",
    "starpilot",
)
"""The 16 Procgen games."""

PROCGEN_DISTRIBUTION_MODES = ("easy", "hard")
"""The distribution modes ``syllabus.envs.procgen`` supports (those with published return bounds)."""


@dataclass
class ProcgenEnvConfig:
    """Procgen; a task is a level seed in ``[start_level, start_level + num_levels)``."""

    name: str = "procgen"
    game: str = "bigfish"
    num_levels: int = 200
    start_level: int = 0
    distribution_mode: str = "easy"
    eval_num_levels: int = 100
    success_threshold: float | None = None


def check(env: ProcgenEnvConfig) -> None:
    """A known game and distribution mode; level counts >= 1 from a level >= 0."""
    one_of("env.game", env.game, PROCGEN_GAMES, "Procgen game")
    one_of("env.distribution_mode", env.distribution_mode, PROCGEN_DISTRIBUTION_MODES, "distribution mode")
    check_at_least("env.num_levels", env.num_levels, 1)
    check_at_least("env.eval_num_levels", env.eval_num_levels, 1)
    check_at_least("env.start_level", env.start_level, 0)


def _levels(env: ProcgenEnvConfig, evaluation: bool) -> tuple[int, int]:
    """The first level and the number of levels (the held-out ones follow the training ones)."""
    if evaluation:
        return env.start_level + env.num_levels, env.eval_num_levels
    return env.start_level, env.num_levels


def task_space(env: ProcgenEnvConfig, evaluation: bool) -> Any:
    """The level seeds."""
    return import_env("procgen", "level_task_space", "procgen")(*_levels(env, evaluation))


def make(env: ProcgenEnvConfig, evaluation: bool) -> Any:
    """The Procgen task env."""
    first, count = _levels(env, evaluation)
    return import_env("procgen", "make_procgen", "procgen")(
        game=env.game, num_levels=count, start_level=first, distribution_mode=env.distribution_mode
    )


ENTRIES = (
    EnvEntry(
        "procgen",
        ProcgenEnvConfig,
        check,
        extra="procgen",
        module="procgen",
        task_space=task_space,
        make=make,
        held_out=lambda env: True,  # eval levels follow the training levels
    ),
)
