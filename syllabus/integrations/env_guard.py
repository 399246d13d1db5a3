"""Env factories whose envs name their index in any exception: in-process vector envs and Ray actors.

A failing env of a ``DummyVecEnv`` or of a Ray actor raises
[`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming its index and where it failed (built,
reset or step), with the original traceback in the message. This module imports neither
Stable-Baselines3 nor torch, so an env actor that unpickles such a factory stays light.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import gymnasium as gym

from syllabus.core.errors import EnvWorkerError

__all__ = ["guard_env_fns"]


def _raised(index: int, exc: BaseException, where: str) -> EnvWorkerError:
    text = "".join(traceback.format_exception(exc)).rstrip()
    return EnvWorkerError(f"env {index} raised {type(exc).__name__} {where}: {exc}\n{text}", index)


class _EnvErrorWrapper(gym.Wrapper):
    """Names the env index in any exception its env raises (envs of ``DummyVecEnv`` and Ray actors)."""

    def __init__(self, env: gym.Env, index: int) -> None:
        super().__init__(env)
        self._index = index

    def reset(self, **kwargs: Any) -> Any:
        try:
            return self.env.reset(**kwargs)
        except Exception as exc:
            raise _raised(self._index, exc, "in reset") from None

    def step(self, action: Any) -> Any:
        try:
            return self.env.step(action)
        except Exception as exc:
            raise _raised(self._index, exc, "in step") from None


def _guarded_env(env_fn: Callable[[], gym.Env], index: int) -> gym.Env:
    try:
        env = env_fn()
    except Exception as exc:
        raise _raised(index, exc, "while it was built") from None
    return _EnvErrorWrapper(env, index)


def guard_env_fns(env_fns: Sequence[Callable[[], gym.Env]]) -> list[Callable[[], gym.Env]]:
    """Env factories whose envs raise [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming
    their index when they fail (for in-process vector envs such as ``DummyVecEnv``, and Ray actors)."""
    return [partial(_guarded_env, env_fn, index) for index, env_fn in enumerate(env_fns)]
