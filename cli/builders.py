"""From a validated config to objects: task envs and the curriculum.

The chain is config -> task env factory -> sync wrapper -> vector env -> learner; the sync wrapper
and the vector env are built in [`syllabus.cli.environments`][syllabus.cli.environments], the learner in
[`syllabus.cli.learners`][syllabus.cli.learners].
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import gymnasium as gym
from syllabus.cli.env_names import CONNECT_FOUR_OPPONENTS
from syllabus.cli.schema import (
    CartPoleEnvConfig,
    ConfigError,
    ConnectFourEnvConfig,
    MiniGridEnvConfig,
    MpeEnvConfig,
    ProcgenEnvConfig,
    RunConfig,
)

from syllabus.core import Curriculum, MultiagentSharedCurriculumWrapper
from syllabus.task_space import DiscreteTaskSpace

EXTRAS = {"procgen": "procgen", "minigrid": "minigrid", "mpe": "mpe", "connect_four": "pettingzoo"}
MASKED_ENVS = ("connect_four",)
"""Envs with action masks (``action_masks()``): ``learner=sb3_ppo`` trains sb3-contrib's MaskablePPO on them."""


class MissingDependencyError(RuntimeError):
    """An optional dependency of the chosen config is not installed; the message names the extra."""


# ------------------------------------------------------------------------- tasks


def task_space_of(env_cfg: Any, *, evaluation: bool = False) -> DiscreteTaskSpace:
    """The task space of an env config (its held-out tasks with ``evaluation=True``), without building the env."""
    if isinstance(env_cfg, CartPoleEnvConfig):
        tasks = env_cfg.eval_tasks if evaluation and env_cfg.eval_tasks else env_cfg.tasks
        return DiscreteTaskSpace([float(t) for t in tasks])
    if isinstance(env_cfg, ProcgenEnvConfig):
        level_task_space = _import_env("procgen", "level_task_space")
        return level_task_space(*_procgen_levels(env_cfg, evaluation))
    if isinstance(env_cfg, MiniGridEnvConfig):
        if evaluation and env_cfg.eval_tasks:
            return DiscreteTaskSpace(list(env_cfg.eval_tasks))
        # check_env_config: exactly one of env_ids and seeds is given.
        return DiscreteTaskSpace(list(env_cfg.env_ids or env_cfg.seeds or []))
    if isinstance(env_cfg, MpeEnvConfig):
        tasks = env_cfg.eval_tasks if evaluation and env_cfg.eval_tasks else env_cfg.tasks
        return DiscreteTaskSpace([float(t) for t in tasks])
    if isinstance(env_cfg, ConnectFourEnvConfig):  # without a self-play curriculum: the fixed opponents
        return DiscreteTaskSpace(list(env_cfg.eval_opponents if evaluation else CONNECT_FOUR_OPPONENTS))
    raise ConfigError(f"no task space for env config {env_cfg!r}")


def _procgen_levels(env_cfg: ProcgenEnvConfig, evaluation: bool) -> tuple[int, int]:
    if evaluation:
        return env_cfg.start_level + env_cfg.num_levels, env_cfg.eval_num_levels
    return env_cfg.start_level, env_cfg.num_levels


def make_task_env(env_cfg: Any, *, evaluation: bool = False) -> gym.Env:
    """Builds the task env of ``env_cfg`` (over its held-out tasks with ``evaluation=True``)."""
    if isinstance(env_cfg, CartPoleEnvConfig):
        from syllabus.envs.cartpole import make_cartpole

        return make_cartpole(task_space_of(env_cfg, evaluation=evaluation))
    if isinstance(env_cfg, ProcgenEnvConfig):
        make_procgen = _import_env("procgen", "make_procgen")
        first, count = _procgen_levels(env_cfg, evaluation)
        return make_procgen(
            game=env_cfg.game,
            num_levels=count,
            start_level=first,
            distribution_mode=env_cfg.distribution_mode,
        )
    if isinstance(env_cfg, MiniGridEnvConfig):
        make_minigrid = _import_env("minigrid", "make_minigrid")
        if evaluation and env_cfg.eval_tasks:
            if env_cfg.env_ids:
                return make_minigrid(env_ids=list(env_cfg.eval_tasks))
            return make_minigrid(env_id=env_cfg.env_id, seeds=list(env_cfg.eval_tasks))
        return make_minigrid(env_ids=env_cfg.env_ids, env_id=env_cfg.env_id, seeds=env_cfg.seeds)
    if is_multiagent(env_cfg):
        from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv

        return StackedAgentsEnv(make_parallel_task_env(env_cfg, evaluation=evaluation))
    if isinstance(env_cfg, ConnectFourEnvConfig):
        make_connect_four = _import_env("connect_four", "make_connect_four")
        return make_connect_four(task_space_of(env_cfg, evaluation=evaluation), seat=env_cfg.seat)
    from syllabus.cli.selfplay import PooledEnvConfig, make_pooled_env

    if isinstance(env_cfg, PooledEnvConfig):  # a self-play run: opponents from the curriculum's pool
        return make_pooled_env(env_cfg)
    raise ConfigError(f"cannot build an env from {env_cfg!r}")


# ------------------------------------------------------------ multi-agent envs


def is_multiagent(env_cfg: Any) -> bool:
    """Whether the env is a PettingZoo parallel env (trained with one policy shared by its agents)."""
    return isinstance(env_cfg, MpeEnvConfig)


def make_parallel_task_env(env_cfg: Any, *, evaluation: bool = False) -> Any:
    """Builds the PettingZoo parallel task env of a multi-agent ``env_cfg``."""
    if isinstance(env_cfg, MpeEnvConfig):
        make_mpe = _import_env("mpe", "make_mpe")
        return make_mpe(
            task_space_of(env_cfg, evaluation=evaluation),
            n_agents=env_cfg.n_agents,
            max_cycles=env_cfg.max_cycles,
            local_ratio=env_cfg.local_ratio,
        )
    raise ConfigError(f"{env_cfg!r} is not a multi-agent env")


def possible_agents(env_cfg: Any) -> list[Any]:
    """The agents of a multi-agent env, in its order."""
    env = make_parallel_task_env(env_cfg)
    try:
        return list(env.possible_agents)
    finally:
        env.close()


def _import_env(name: str, attribute: str) -> Any:
    """``attribute`` of ``syllabus.envs.<name>``, after checking that the env's package imports."""
    try:
        module = importlib.import_module(f"syllabus.envs.{name}")
        getattr(module, f"import_{name}")()
    except ImportError as exc:
        hint = (
            ""
            if "pip install" in str(exc)
            else f'; install it with: pip install "syllabus-curriculum[{EXTRAS[name]}]"'
        )
        raise MissingDependencyError(f"env={name} needs an optional dependency: {exc}{hint}") from None
    return getattr(module, attribute)


def check_env_config(env_cfg: Any) -> None:
    """Checks what the schema's types cannot (e.g. that MiniGrid gets one kind of task list) and that
    the env's optional package is installed."""
    for name in EXTRAS:
        if getattr(env_cfg, "name", None) == name:
            _import_env(name, f"import_{name}")
    if isinstance(env_cfg, MiniGridEnvConfig):
        if bool(env_cfg.env_ids) == bool(env_cfg.seeds):
            raise ConfigError(
                "env (minigrid): give either env.env_ids (a list of env ids) or env.env_id with env.seeds, "
                f"got env_ids={env_cfg.env_ids!r}, seeds={env_cfg.seeds!r}"
            )
        if env_cfg.seeds and not env_cfg.env_id:
            raise ConfigError(
                "env (minigrid): env.seeds needs env.env_id (the env whose seeds are the tasks)"
            )
    if isinstance(env_cfg, ProcgenEnvConfig):
        for key in ("num_levels", "eval_num_levels"):
            if getattr(env_cfg, key) < 1:
                raise ConfigError(f"env.{key} must be >= 1, got {getattr(env_cfg, key)}")
        if env_cfg.start_level < 0:
            raise ConfigError(f"env.start_level must be >= 0, got {env_cfg.start_level}")
    if isinstance(env_cfg, CartPoleEnvConfig) and not env_cfg.tasks:
        raise ConfigError("env.tasks must list at least one initial-state half-width, got []")


# -------------------------------------------------------------------- curriculum


def make_curriculum(run: RunConfig, task_space: DiscreteTaskSpace) -> Curriculum | None:
    """Builds the curriculum of ``run`` (``None`` for ``curriculum=none``), seeded with ``run.seed``."""
    curriculum = _make_curriculum(run, task_space)
    if curriculum is not None and is_multiagent(run.env):
        # PettingZoo envs report every agent's return: one curriculum learns from all agents.
        return MultiagentSharedCurriculumWrapper(curriculum, possible_agents(run.env))
    return curriculum


def _make_curriculum(run: RunConfig, task_space: DiscreteTaskSpace) -> Curriculum | None:
    from syllabus.cli.selfplay import is_self_play, make_self_play_curriculum

    from syllabus.curricula import (
        Constant,
        DomainRandomization,
        Learnability,
        LearningProgress,
        PrioritizedLevelReplay,
        SequentialCurriculum,
    )

    if is_self_play(run):  # the task is the opponent: an id of the curriculum's own pool
        return make_self_play_curriculum(run)
    cfg = run.curriculum
    common: dict[str, Any] = {"random_seed": run.seed, "record_stats": True}
    n = task_space.num_tasks
    try:
        if cfg.name == "none":
            return None
        if cfg.name == "constant":
            if not 0 <= cfg.task_index < n:
                raise ConfigError(
                    f"curriculum.task_index must be in [0, {n - 1}] (the env's tasks), got {cfg.task_index}"
                )
            return Constant(task_space.decode(cfg.task_index), task_space, **common)
        if cfg.name == "dr":
            return DomainRandomization(task_space, **common)
        if cfg.name == "sequential":
            return SequentialCurriculum(
                _prefix_stages(cfg.stage_fractions, task_space),
                task_space,
                list(cfg.stopping_conditions),
                return_window=cfg.return_window,
                **common,
            )
        if cfg.name in ("plr", "robust_plr"):
            params = {k: v for k, v in vars(cfg).items() if k != "name"}
            return PrioritizedLevelReplay(task_space, **params, **common)
        if cfg.name == "lp":
            return LearningProgress(
                task_space,
                ema_alpha=cfg.ema_alpha,
                p_theta=cfg.p_theta,
                eps=cfg.eps,
                success_threshold=cfg.success_threshold,
                **common,
            )
        if cfg.name == "learnability":
            return Learnability(
                task_space,
                top_k=cfg.top_k,
                eps=cfg.eps,
                ema_alpha=cfg.ema_alpha,
                success_threshold=cfg.success_threshold,
                **common,
            )
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"curriculum ({cfg.name}): {exc}") from None
    raise ConfigError(f"curriculum.name: no builder for {cfg.name!r}")


def _prefix_stages(fractions: list[float], task_space: DiscreteTaskSpace) -> list[list[Any]]:
    n = task_space.num_tasks
    stages = []
    for i, fraction in enumerate(fractions):
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"curriculum.stage_fractions[{i}] must be in (0, 1], got {fraction}")
        stages.append([task_space.decode(j) for j in range(math.ceil(fraction * n))])
    return stages


def has_action_masks(env_cfg: Any) -> bool:
    """Whether the env of ``env_cfg`` masks actions (see [`MASKED_ENVS`][syllabus.cli.builders.MASKED_ENVS])."""
    return getattr(env_cfg, "name", None) in MASKED_ENVS


def takes_learner_updates(run: RunConfig) -> bool:
    """Whether the curriculum learns from the learner's rollouts (value predictions), i.e. PLR."""
    return run.curriculum.name in ("plr", "robust_plr")
