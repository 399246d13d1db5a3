"""``env=cartpole``: CartPole-v1 whose task is the half-width of the initial-state range."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.config_checks import check_positive_tasks
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import EnvEntry


@dataclass
class CartPoleEnvConfig:
    """CartPole-v1; a task is the half-width of the initial-state range."""

    name: str = "cartpole"
    tasks: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.1, 0.15, 0.2])
    eval_tasks: list[float] | None = None
    success_threshold: float | None = 195.0


def check(env: CartPoleEnvConfig) -> None:
    """At least one task; every task > 0."""
    if not env.tasks:
        raise ConfigError("env.tasks must list at least one initial-state half-width, got []")
    for key, tasks in (("env.tasks", env.tasks), ("env.eval_tasks", env.eval_tasks or [])):
        check_positive_tasks(key, tasks, "a CartPole task is the half-width of the initial-state range")


def task_space(env: CartPoleEnvConfig, evaluation: bool) -> Any:
    """The half-widths (``eval_tasks`` with ``evaluation``, when given)."""
    from syllabus.task_space import DiscreteTaskSpace

    tasks = env.eval_tasks if evaluation and env.eval_tasks else env.tasks
    return DiscreteTaskSpace([float(t) for t in tasks])


def make(env: CartPoleEnvConfig, evaluation: bool) -> Any:
    """The CartPole task env."""
    from syllabus.envs.cartpole import make_cartpole

    return make_cartpole(task_space(env, evaluation))


ENTRIES = (EnvEntry("cartpole", CartPoleEnvConfig, check, task_space=task_space, make=make),)
