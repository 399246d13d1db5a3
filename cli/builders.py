"""From a validated config to objects: task envs and the curriculum, by the registry's entries.

The chain is config -> task env factory -> sync wrapper -> vector env -> learner; the sync wrapper
and the vector env are built in [`syllabus.cli.environments`][syllabus.cli.environments], the learner in
[`syllabus.cli.learners`][syllabus.cli.learners]. Each env's and curriculum's own builder is in its
registry entry ([`syllabus.cli.registry`][syllabus.cli.registry]).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from syllabus.cli.errors import ConfigError, MissingDependencyError
from syllabus.cli.registry import REGISTRY
from syllabus.cli.schema import RunConfig

from syllabus.core import Curriculum, MultiagentSharedCurriculumWrapper
from syllabus.task_space import DiscreteTaskSpace

__all__ = [
    "MissingDependencyError",
    "has_action_masks",
    "is_multiagent",
    "make_curriculum",
    "make_parallel_task_env",
    "make_task_env",
    "possible_agents",
    "takes_learner_updates",
    "task_space_of",
]


def task_space_of(env_cfg: Any, *, evaluation: bool = False) -> DiscreteTaskSpace:
    """The task space of an env config (its held-out tasks with ``evaluation=True``), without building the env."""
    return REGISTRY.env(env_cfg).task_space(env_cfg, evaluation)


def make_task_env(env_cfg: Any, *, evaluation: bool = False) -> gym.Env:
    """Builds the task env of ``env_cfg`` (over its held-out tasks with ``evaluation=True``)."""
    from syllabus.cli.selfplay import PooledEnvConfig, make_pooled_env

    if isinstance(env_cfg, PooledEnvConfig):  # a self-play run: opponents from the curriculum's pool
        return make_pooled_env(env_cfg)
    return REGISTRY.env(env_cfg).make(env_cfg, evaluation)


def is_multiagent(env_cfg: Any) -> bool:
    """Whether the env is a PettingZoo parallel env (trained with one policy shared by its agents)."""
    name = getattr(env_cfg, "name", None)  # None: a self-play run's pooled env (one learner seat)
    return name is not None and REGISTRY.env(env_cfg).make_parallel is not None


def make_parallel_task_env(env_cfg: Any, *, evaluation: bool = False) -> Any:
    """Builds the PettingZoo parallel task env of a multi-agent ``env_cfg``."""
    make_parallel = REGISTRY.env(env_cfg).make_parallel
    if make_parallel is None:
        raise ConfigError(f"{env_cfg!r} is not a multi-agent env")
    return make_parallel(env_cfg, evaluation)


def possible_agents(env_cfg: Any) -> list[Any]:
    """The agents of a multi-agent env, in its order."""
    env = make_parallel_task_env(env_cfg)
    try:
        return list(env.possible_agents)
    finally:
        env.close()


def make_curriculum(run: RunConfig, task_space: DiscreteTaskSpace) -> Curriculum | None:
    """Builds the curriculum of ``run`` (``None`` for ``curriculum=none``), seeded with ``run.seed``.

    Raises:
        ConfigError: The curriculum refuses a value (its message, after the curriculum's name).
    """
    try:
        curriculum = REGISTRY.curriculum(run.curriculum).build(run, task_space)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"curriculum ({run.curriculum.name}): {exc}") from None
    if curriculum is not None and is_multiagent(run.env):
        # PettingZoo envs report every agent's return: one curriculum learns from all agents.
        return MultiagentSharedCurriculumWrapper(curriculum, possible_agents(run.env))
    return curriculum


def has_action_masks(env_cfg: Any) -> bool:
    """Whether the env of ``env_cfg`` masks actions (``action_masks()``): ``learner=sb3_ppo`` trains
    sb3-contrib's MaskablePPO on it."""
    name = getattr(env_cfg, "name", None)
    return REGISTRY.env(env_cfg).masked if name is not None else has_action_masks(env_cfg.env)


def takes_learner_updates(run: RunConfig) -> bool:
    """Whether the curriculum learns from the learner's rollouts (value predictions), i.e. PLR."""
    return REGISTRY.curriculum(run.curriculum).learner_updates
