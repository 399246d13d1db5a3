"""CartPole with tasks: the range of the initial state."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from syllabus.core.task_interface import TaskWrapper
from syllabus.task_space import BoxTaskSpace, TaskSpace


class CartPoleTaskWrapper(TaskWrapper):
    """CartPole whose task is the half-width ``w`` of the initial state: each state variable starts in ``U(-w, w)``.

    Gymnasium's default is ``w = 0.05`` (the first task when the space has it, else the space's first
    task); larger ranges start the pole farther from balance.

    Args:
        env: A ``CartPole-v1`` environment.
        task_space: Half-widths to choose from, e.g. ``DiscreteTaskSpace([0.05, 0.1, 0.2])`` for
            curricula over enumerable tasks; defaults to ``BoxTaskSpace(0.01, 0.2)``.
    """

    def __init__(self, env: gym.Env, task_space: TaskSpace | None = None) -> None:
        super().__init__(env, task_space if task_space is not None else BoxTaskSpace(0.01, 0.2, shape=()))
        space = self.task_space
        self._task = (
            0.05 if space.contains(0.05) else (space.decode(0) if space.is_enumerable else space.sample())
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None):
        """Resets with the initial state drawn from ``U(-task, task)``.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Task to switch to before resetting; ``None`` keeps the current one.
        """
        if new_task is not None:
            self._set_task(new_task)
        width = float(self._task)
        return self.env.reset(seed=seed, options={**(options or {}), "low": -width, "high": width})


def make_cartpole(task_space: TaskSpace | None = None) -> CartPoleTaskWrapper:
    """Builds ``CartPole-v1`` wrapped in [`CartPoleTaskWrapper`][syllabus.envs.cartpole.CartPoleTaskWrapper].

    Args:
        task_space: Task space of the wrapper; its default when ``None``.
    """
    return CartPoleTaskWrapper(gym.make("CartPole-v1"), task_space)
