"""``env=mpe``: MPE2 ``simple_spread`` (cooperative, PettingZoo), its agents sharing one policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.config_checks import check_at_least, check_positive_tasks
from syllabus.cli.envs import import_env
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import EnvEntry


@dataclass
class MpeEnvConfig:
    """MPE2 ``simple_spread`` (cooperative); a task is the half-width of the square agents and landmarks start in."""

    name: str = "mpe"
    tasks: list[float] = field(default_factory=lambda: [0.5, 1.0, 1.5, 2.0])
    eval_tasks: list[float] | None = None
    n_agents: int = 3
    max_cycles: int = 25
    local_ratio: float = 0.5


def check(env: MpeEnvConfig) -> None:
    """At least one task, every task > 0; agents and cycles >= 1; ``local_ratio`` in [0, 1]."""
    if not env.tasks:
        raise ConfigError("env.tasks must list at least one world half-width, got []")
    for key, tasks in (("env.tasks", env.tasks), ("env.eval_tasks", env.eval_tasks or [])):
        check_positive_tasks(key, tasks, "an MPE task is the half-width of the start square")
    check_at_least("env.n_agents", env.n_agents, 1)
    check_at_least("env.max_cycles", env.max_cycles, 1)
    if not 0.0 <= env.local_ratio <= 1.0:
        raise ConfigError(f"env.local_ratio must be in [0, 1], got {env.local_ratio}")


def check_run(run: Any) -> None:
    """MPE trains with SB3 (one policy shared by the agents)."""
    if run.learner.name != "sb3_ppo":
        raise ConfigError(
            f"env=mpe trains with learner=sb3_ppo (one policy shared by the agents), got learner={run.learner.name}; "
            "for RLlib multi-agent training see examples/rllib_multiagent.py"
        )


def task_space(env: MpeEnvConfig, evaluation: bool) -> Any:
    """The half-widths (``eval_tasks`` with ``evaluation``, when given)."""
    from syllabus.task_space import DiscreteTaskSpace

    tasks = env.eval_tasks if evaluation and env.eval_tasks else env.tasks
    return DiscreteTaskSpace([float(t) for t in tasks])


def make_parallel(env: MpeEnvConfig, evaluation: bool) -> Any:
    """The PettingZoo parallel env."""
    return import_env("mpe", "make_mpe", "mpe")(
        task_space(env, evaluation),
        n_agents=env.n_agents,
        max_cycles=env.max_cycles,
        local_ratio=env.local_ratio,
    )


def make(env: MpeEnvConfig, evaluation: bool) -> Any:
    """The parallel env with its agents stacked (one vector entry per agent)."""
    from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv

    return StackedAgentsEnv(make_parallel(env, evaluation))


ENTRIES = (
    EnvEntry(
        "mpe",
        MpeEnvConfig,
        check,
        check_run,
        extra="mpe",
        module="mpe2",
        task_space=task_space,
        make=make,
        make_parallel=make_parallel,
    ),
)
