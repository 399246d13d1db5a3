"""The task interface: environments whose task is switched by ``reset(new_task=...)``.

Every environment handed to a sync wrapper implements it, by subclassing [`TaskEnv`][syllabus.core.task_interface.TaskEnv], by
being wrapped in a [`TaskWrapper`][syllabus.core.task_interface.TaskWrapper] (or [`ReinitTaskWrapper`][syllabus.core.task_interface.ReinitTaskWrapper]), or by duck typing:

* ``reset(*, seed=None, options=None, new_task=None)`` switches to ``new_task`` before resetting;
  ``TaskEnv`` and ``TaskWrapper`` (and their subclasses) also take the task as
  ``reset(options={"task": task})``, which ordinary gymnasium wrappers pass on unchanged, so
  observation wrappers and the like may sit between a task env and the sync wrapper;
* ``task`` is the current task, ``task_space`` the [`TaskSpace`][syllabus.task_space.TaskSpace] of tasks;
* progress toward the task (0 to 1) may be reported in ``info["task_completion"]``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import gymnasium as gym

from syllabus.core.errors import TaskInterfaceError
from syllabus.task_space import TaskSpace, TaskSpaceError

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")

TASK_OPTION = "task"
"""Key of the task in ``reset(options=...)``, the way a task passes through ordinary gymnasium wrappers."""

TaskReset = Callable[[Any, "int | None", "dict[str, Any] | None"], tuple[Any, dict[str, Any]]]
"""Resets an env into a task: ``reset(task, seed, options) -> (obs, info)``."""


def _task_from_options(options: dict[str, Any] | None, new_task: Any) -> tuple[dict[str, Any] | None, Any]:
    """Moves ``options["task"]`` into ``new_task``; returns the other options (``None`` if none are left)."""
    if not options or TASK_OPTION not in options:
        return options, new_task
    if new_task is not None:
        raise TaskInterfaceError("reset() got a task twice, as new_task and as options['task']: pass it once")
    rest = {key: value for key, value in options.items() if key != TASK_OPTION}
    return rest or None, options[TASK_OPTION]


def _accepts_task_option(reset: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a ``reset(*, seed, options, new_task)`` so that it also takes the task as ``options["task"]``."""

    @functools.wraps(reset)
    def wrapped(
        self: Any, *args: Any, options: dict[str, Any] | None = None, new_task: Any = None, **kwargs: Any
    ):
        options, new_task = _task_from_options(options, new_task)
        return reset(self, *args, options=options, new_task=new_task, **kwargs)

    return wrapped


class _TaskHolder:
    """Validation and bookkeeping of the current task, shared by TaskEnv and the wrappers.

    Every ``reset`` defined by a subclass takes the task as ``new_task`` or as ``options["task"]``.
    """

    task_space: TaskSpace
    _task: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "reset" in cls.__dict__:
            setattr(cls, "reset", _accepts_task_option(cls.__dict__["reset"]))  # noqa: B010 - set on subclasses only

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


def _takes_new_task(env: gym.Env) -> bool:
    try:
        params = inspect.signature(env.reset).parameters
    except (TypeError, ValueError) as exc:
        raise TaskInterfaceError(f"cannot inspect {type(env).__name__}.reset: {exc}") from exc
    return "new_task" in params


def _task_holder_beneath(env: gym.Env) -> _TaskHolder | None:
    """The TaskEnv or TaskWrapper under ``env``'s stack of gymnasium wrappers, if any."""
    inner: Any = env
    while isinstance(inner, gym.Wrapper):
        inner = inner.env
        if isinstance(inner, _TaskHolder):
            return inner
    return None


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays: no single truth value
        return False


def task_reset(env: gym.Env) -> TaskReset:
    """How to reset ``env`` into a task: ``reset(new_task=...)`` if its ``reset`` takes it, else ``options``.

    The task travels as ``reset(new_task=task)`` when ``env.reset`` takes ``new_task`` (a task
    env, a TaskWrapper, or a duck-typed env), and otherwise as ``reset(options={"task": task})``
    through the gymnasium wrappers above a ``TaskEnv`` or ``TaskWrapper``; a wrapper
    that drops ``options`` on the way is caught at the first reset.

    Args:
        env: The env a sync wrapper (or another task source) wraps.

    Returns:
        ``reset(task, seed, options) -> (obs, info)``.

    Raises:
        TaskInterfaceError: ``env`` takes no ``new_task`` and has no TaskEnv or TaskWrapper beneath
            its wrappers (raised now), or a wrapper beneath did not pass the task on (at a reset).
    """
    if _takes_new_task(env):
        return lambda task, seed, options: env.reset(seed=seed, options=options, new_task=task)  # type: ignore[call-arg]
    holder = _task_holder_beneath(env)
    if holder is None:
        raise TaskInterfaceError(
            f"{env} cannot switch tasks: its reset() takes no 'new_task' argument and no TaskEnv or TaskWrapper "
            "is beneath its wrappers. Wrap the environment in a syllabus TaskWrapper (or subclass TaskEnv); "
            "gymnasium wrappers may then go above or below the sync wrapper (they pass options['task'] on)."
        )

    def reset(task: Any, seed: int | None, options: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        obs, info = env.reset(seed=seed, options={**(options or {}), TASK_OPTION: task})
        if task is not None and not _same(holder.task, task):
            raise TaskInterfaceError(
                f"a wrapper between {env} and its task env {type(holder).__name__} did not pass reset()'s options "
                "on, so the task never arrived: such a wrapper must call self.env.reset(seed=seed, options=options)"
            )
        return obs, info

    return reset


def check_task_interface(env: Any) -> None:
    """Raises ``TaskInterfaceError`` unless a task can reach ``env``'s task env (see [`task_reset`][syllabus.core.task_interface.task_reset]).

    Either ``env.reset`` accepts ``new_task``, or a ``TaskEnv`` or ``TaskWrapper`` lies
    beneath ``env``'s gymnasium wrappers (the task then travels as ``options["task"]``).
    """
    task_reset(env)
