"""The task interface: environments whose task is switched by ``reset(new_task=...)``.

Every environment handed to a sync wrapper implements it, by subclassing [`TaskEnv`][syllabus.core.task_interface.TaskEnv], by
being wrapped in a [`TaskWrapper`][syllabus.core.task_interface.TaskWrapper] (or [`ReinitTaskWrapper`][syllabus.core.task_interface.ReinitTaskWrapper]), or by duck typing:

* ``reset(*, seed=None, options=None, new_task=None)`` switches to ``new_task`` before resetting;
* ``task`` is the current task, ``task_space`` the [`TaskSpace`][syllabus.task_space.base.TaskSpace] of tasks;
* progress toward the task (0 to 1) may be reported in ``info["task_completion"]``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import gymnasium as gym

from syllabus.core.errors import TaskInterfaceError
from syllabus.task_space import TaskSpace, TaskSpaceError

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")


class _TaskHolder:
    """Validation and bookkeeping of the current task, shared by TaskEnv and the wrappers."""

    task_space: TaskSpace
    _task: Any = None

    @property
    def task(self) -> Any:
        """The task the environment currently runs (``None`` before the first task is set)."""
        return self._task

    def change_task(self, new_task: Any) -> None:
        """Applies ``new_task`` to the environment; called by ``reset`` before it resets. Override it."""

    def _set_task(self, new_task: Any) -> None:
        if not self.task_space.contains(new_task):
            raise TaskSpaceError(f"task {new_task!r} is not in {self.task_space!r}")
        self.change_task(new_task)
        self._task = new_task


class TaskEnv(_TaskHolder, gym.Env[ObsType, ActType], Generic[ObsType, ActType]):
    """A `gymnasium.Env` with tasks. Subclasses call ``super().reset(seed=seed, new_task=new_task)``.

    Args:
        task_space: The tasks this environment can run.
    """

    def __init__(self, task_space: TaskSpace) -> None:
        self.task_space = task_space

    def reset(  # type: ignore[override]
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> None:
        """Seeds the env's generator and switches to ``new_task`` when given.

        Subclasses call this first, then build and return ``(obs, info)``, as with ``gymnasium.Env``.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Task to switch to before resetting; ``None`` keeps the current one.
        """
        super().reset(seed=seed, options=options)
        if new_task is not None:
            self._set_task(new_task)


class TaskWrapper(_TaskHolder, gym.Wrapper[ObsType, ActType, ObsType, ActType]):
    """Adds tasks to an existing environment. Subclasses implement `change_task`.

    Args:
        env: The environment to wrap.
        task_space: The tasks the wrapped environment can run.
    """

    def __init__(self, env: gym.Env, task_space: TaskSpace) -> None:
        super().__init__(env)
        self.task_space = task_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Switches to ``new_task`` when given, then resets the wrapped environment.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Task to switch to before resetting; ``None`` keeps the current one.
        """
        if new_task is not None:
            self._set_task(new_task)
        return self.env.reset(seed=seed, options=options)


class ReinitTaskWrapper(TaskWrapper[ObsType, ActType]):
    """Builds a fresh environment from ``env_fn(task)`` at every reset that is given a task.

    For environments whose task is fixed at construction. Every environment it builds must have
    the observation and action spaces of the first one.

    Args:
        env_fn: Builds the environment of a task.
        task_space: The tasks ``env_fn`` accepts.
        task: The first task; defaults to the first task of an enumerable space, else a sample.
    """

    def __init__(self, env_fn: Callable[[Any], gym.Env], task_space: TaskSpace, task: Any = None) -> None:
        if task is None:
            task = task_space.decode(0) if task_space.is_enumerable else task_space.sample()
        if not task_space.contains(task):
            raise TaskSpaceError(f"task {task!r} is not in {task_space!r}")
        super().__init__(env_fn(task), task_space)
        self.env_fn = env_fn
        self._task = task

    def change_task(self, new_task: Any) -> None:
        """Closes the current environment and builds the one of ``new_task``.

        Args:
            new_task: Task whose environment ``env_fn`` builds.
        """
        new_env = self.env_fn(new_task)
        if (
            new_env.observation_space != self.env.observation_space
            or new_env.action_space != self.env.action_space
        ):
            new_env.close()
            raise ValueError(
                f"env_fn({new_task!r}) built an env with other spaces than the first one: "
                f"{new_env.observation_space}, {new_env.action_space} vs "
                f"{self.env.observation_space}, {self.env.action_space}"
            )
        self.env.close()
        self.env = new_env


def check_task_interface(env: Any) -> None:
    """Raises [`TaskInterfaceError`][syllabus.core.errors.TaskInterfaceError] unless ``env.reset`` accepts ``new_task``.

    A wrapper stacked above a [`TaskWrapper`][syllabus.core.task_interface.TaskWrapper] (e.g. ``RecordEpisodeStatistics``) hides its
    ``new_task`` argument; the sync wrapper must sit directly above the task wrapper.

    Args:
        env: The env a sync wrapper is about to wrap.
    """
    try:
        params = inspect.signature(env.reset).parameters
    except (TypeError, ValueError) as exc:
        raise TaskInterfaceError(f"cannot inspect {type(env).__name__}.reset: {exc}") from exc
    if "new_task" not in params:
        raise TaskInterfaceError(
            f"{env} cannot switch tasks: its reset() takes no 'new_task' argument. Wrap the environment in a "
            "syllabus TaskWrapper (or subclass TaskEnv) and put the sync wrapper directly above it; "
            "wrappers such as RecordEpisodeStatistics go above the sync wrapper."
        )
