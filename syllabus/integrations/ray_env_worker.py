"""The Ray actor that holds one environment of a [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv].

Kept apart from the vector env so that env actors import neither Stable-Baselines3 nor torch. The
worker processes of [`GuardedSubprocVecEnv`][syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv]
hold their env in the same class ([`vec_env_worker`][syllabus.integrations.vec_env_worker]).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym


def _as_gymnasium(env: Any) -> gym.Env:
    """``env`` itself, or an old ``gym`` env converted by Stable-Baselines3 (through shimmy)."""
    if isinstance(env, gym.Env):
        return env
    from stable_baselines3.common.vec_env.patch_gym import _patch_env

    return _patch_env(env)


class EnvWorker:
    """Holds one environment and steps it with SB3's auto-reset semantics.

    Args:
        env_fn: Builds the environment (in the actor's process).
        index: The env's index in its vector env; Ray shows it in errors and logs.
    """

    def __init__(self, env_fn: Callable[[], gym.Env], index: int) -> None:
        self.index = index
        self.env = _as_gymnasium(env_fn())

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The observation and action spaces."""
        return self.env.observation_space, self.env.action_space

    def reset(self, seed: int | None, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Resets with ``seed`` and, when not empty, ``options``.

        Args:
            seed: Seed for the env's reset; ``None`` leaves it unseeded.
            options: Reset options; not passed when empty.
        """
        return self.env.reset(seed=seed, **({"options": options} if options else {}))

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, dict[str, Any], dict[str, Any] | None]:
        """Steps; at an episode end resets at once (the final observation goes in the info).

        Args:
            action: Action to apply, from the env's action space.

        Returns:
            Observation, reward, done, info, and the reset's info after an episode end (else None).
        """
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info = None
        if done:
            info["terminal_observation"] = obs
            obs, reset_info = self.env.reset()
        return obs, reward, done, info, reset_info

    def render(self) -> Any:
        """The env's render."""
        return self.env.render()

    def get_attr(self, name: str) -> Any:
        """Attribute ``name`` of the env or of one of its wrappers.

        Args:
            name: Name of the env attribute to read.
        """
        return self.env.get_wrapper_attr(name)

    def has_attr(self, name: str) -> bool:
        """Whether the env or one of its wrappers has attribute ``name``.

        Args:
            name: Name of the env attribute to look for.
        """
        try:
            self.env.get_wrapper_attr(name)
        except AttributeError:
            return False
        return True

    def set_attr(self, name: str, value: Any) -> None:
        """Sets attribute ``name`` of the outermost wrapper.

        Args:
            name: Name of the env attribute to set.
            value: Its new value.
        """
        setattr(self.env, name, value)

    def env_method(self, name: str, args: tuple, kwargs: dict) -> Any:
        """Calls method ``name`` of the env or of one of its wrappers.

        Args:
            name: Name of the env method to call.
            args: Its positional arguments.
            kwargs: Its keyword arguments.
        """
        return self.env.get_wrapper_attr(name)(*args, **kwargs)

    def is_wrapped(self, module: str, qualname: str) -> bool:
        """Whether a wrapper in the env's chain is an instance of the class ``module.qualname``.

        The class goes by name so that asking does not import its module here: SB3's ``VecMonitor``
        asks about ``Monitor``, whose module imports torch (hundreds of MB in every env actor).

        Args:
            module: The wrapper class's ``__module__``.
            qualname: The wrapper class's ``__qualname__``.
        """
        env = self.env
        while isinstance(env, gym.Wrapper):
            if any(c.__module__ == module and c.__qualname__ == qualname for c in type(env).__mro__):
                return True
            env = env.env
        return False

    def pid(self) -> int:
        """The actor's process id."""
        return os.getpid()

    def close(self) -> None:
        """Closes the env."""
        self.env.close()

    def __repr__(self) -> str:  # Ray names the actor by this in errors and logs
        return f"RayVecEnv env {self.index}"
