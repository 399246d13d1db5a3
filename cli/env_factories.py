"""The env factories of each sync backend: the task env of ``run.env``, connected to the curriculum.

Each runs where its env lives (a ``SubprocVecEnv`` worker, the learner, a Ray actor) and gets the
env's index in the vector env as its ``env_id``, so the curriculum's messages ("env 2 disconnected")
and the runner's ("env 2 died") number envs alike. This module imports neither Stable-Baselines3 nor
torch: a Ray env actor that unpickles a factory stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
from syllabus.cli.builders import is_multiagent, make_parallel_task_env, make_task_env

from syllabus.core import Curriculum, MultiProcessingSyncWrapper, RaySyncWrapper
from syllabus.core.direct_sync import DirectSyncWrapper


class TaskInfoWrapper(gym.Wrapper):
    """Puts the env's current task in the reset ``info["task"]`` when no sync wrapper does (``curriculum=none``)."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        info["task"] = self.env.get_wrapper_attr("task")
        return obs, info


def multiagent_env(env_cfg: Any, sync: Callable[[Any], Any] | None) -> gym.Env:
    """A PettingZoo env synced by ``sync`` (the backend's PettingZoo wrapper; ``None``: no curriculum),
    its agents stacked for parameter sharing ([`syllabus.integrations.sb3_pettingzoo`][syllabus.integrations.sb3_pettingzoo])."""
    from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv

    env = make_parallel_task_env(env_cfg)
    return StackedAgentsEnv(env if sync is None else sync(env))


def worker_env(env_cfg: Any, task_queue: Any, update_queue: Any, index: int) -> gym.Env:
    """Env factory run in each SubprocVecEnv worker (which ignores Ctrl-C: the learner closes workers)."""
    if is_multiagent(env_cfg):
        from syllabus.core import PettingZooSyncWrapper

        sync = (
            None
            if task_queue is None
            else partial(PettingZooSyncWrapper, task_queue=task_queue, update_queue=update_queue)
        )
        return multiagent_env(env_cfg, sync)
    env = make_task_env(env_cfg)
    if task_queue is None:
        return TaskInfoWrapper(env)
    return MultiProcessingSyncWrapper(env, task_queue, update_queue, env_id=index)


def direct_env(env_cfg: Any, curriculum: Curriculum | None, index: int) -> gym.Env:
    """Env factory of ``sync=none``: the curriculum is called in this process."""
    if is_multiagent(env_cfg):
        from syllabus.core import DirectPettingZooSyncWrapper

        return multiagent_env(
            env_cfg,
            None if curriculum is None else partial(DirectPettingZooSyncWrapper, curriculum=curriculum),
        )
    env = make_task_env(env_cfg)
    return TaskInfoWrapper(env) if curriculum is None else DirectSyncWrapper(env, curriculum, env_id=index)


def ray_env(
    env_cfg: Any, actor: Any, curriculum_name: str, namespace: str | None, timeout: float, index: int
) -> gym.Env:
    """Env factory of ``sync=ray``, run in each RayVecEnv actor; ``actor`` is the curriculum's (or None)."""
    if is_multiagent(env_cfg):
        from syllabus.core import RayPettingZooSyncWrapper

        sync = partial(
            RayPettingZooSyncWrapper,
            curriculum_name=curriculum_name,
            namespace=namespace,
            actor=actor,
            timeout=timeout,
        )
        return multiagent_env(env_cfg, None if actor is None else sync)
    env = make_task_env(env_cfg)
    if actor is None:
        return TaskInfoWrapper(env)
    return RaySyncWrapper(env, curriculum_name, namespace, actor=actor, timeout=timeout, env_id=index)
