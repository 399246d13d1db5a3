"""``env=connect_four``: PettingZoo's Connect Four against an opponent; a task is the opponent.

Without a self-play curriculum the tasks are the fixed opponents; with one (``sp``, ``fsp``,
``pfsp``) they are ids of the curriculum's opponent pool ([`syllabus.cli.selfplay`][syllabus.cli.selfplay]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.config_checks import one_of
from syllabus.cli.curricula.self_play import SelfPlayConfig
from syllabus.cli.envs import import_env
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import EnvEntry

CONNECT_FOUR_OPPONENTS = ("random", "heuristic")
"""Fixed opponents of ``env=connect_four`` (``syllabus.envs.connect_four.FIXED_OPPONENTS``)."""
CONNECT_FOUR_SEATS = ("alternate", "first", "second", "random")
"""Seats of the learner in ``env=connect_four`` (``syllabus.envs.connect_four.SEATS``)."""


@dataclass
class ConnectFourEnvConfig:
    """PettingZoo's Connect Four; a task is the opponent (an id of the self-play curricula's pool)."""

    name: str = "connect_four"
    seat: str = "alternate"
    initial_opponents: list[str] = field(default_factory=lambda: ["random"])
    eval_opponents: list[str] = field(default_factory=lambda: ["random", "heuristic"])


def check_run(run: Any) -> None:
    """A curriculum and learner that mask actions, a known seat and known fixed opponents."""
    env, cfg = run.env, run.curriculum
    if getattr(cfg, "robust", False):
        raise ConfigError(
            f"curriculum={cfg.name} (Robust PLR's PPO) cannot mask actions; env=connect_four needs it"
        )
    if run.learner.name != "sb3_ppo":
        raise ConfigError(
            f"env=connect_four masks full columns and trains with learner=sb3_ppo (MaskablePPO), got "
            f"learner={run.learner.name}"
        )
    one_of("env.seat", env.seat, CONNECT_FOUR_SEATS, "seat")
    for key in ("initial_opponents", "eval_opponents"):
        for opponent in getattr(env, key):
            one_of(f"env.{key}", opponent, CONNECT_FOUR_OPPONENTS, "fixed opponent")
    if not env.eval_opponents:
        raise ConfigError("env.eval_opponents must name at least one fixed opponent, got []")
    if isinstance(cfg, SelfPlayConfig) and not env.initial_opponents:
        raise ConfigError(
            f"curriculum={cfg.name} needs an opponent before the learner's first snapshot: env.initial_opponents "
            f"must name at least one of {', '.join(CONNECT_FOUR_OPPONENTS)}, got []"
        )


def task_space(env: ConnectFourEnvConfig, evaluation: bool) -> Any:
    """The fixed opponents (``eval_opponents`` with ``evaluation``)."""
    from syllabus.task_space import DiscreteTaskSpace

    return DiscreteTaskSpace(list(env.eval_opponents if evaluation else CONNECT_FOUR_OPPONENTS))


def make(env: ConnectFourEnvConfig, evaluation: bool) -> Any:
    """The Connect Four task env against the fixed opponents."""
    make_connect_four = import_env("connect_four", "make_connect_four", "pettingzoo")
    return make_connect_four(task_space(env, evaluation), seat=env.seat)


ENTRIES = (
    EnvEntry(
        "connect_four",
        ConnectFourEnvConfig,
        check_run=check_run,
        extra="pettingzoo",
        module="pettingzoo",
        task_space=task_space,
        make=make,
        masked=True,
        opponents=True,
    ),
)
