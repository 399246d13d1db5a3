"""Learner-side view of a curriculum that environments update concurrently."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from syllabus.core.curriculum import Curriculum, StepBatch, Task

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python 3.11+
from syllabus.core.dispatcher import CurriculumDispatcher
from syllabus.task_space import TaskSpace


class CurriculumWrapper:
    """Forwards every [`Curriculum`][syllabus.core.curriculum.Curriculum] method to ``curriculum`` under the dispatcher's lock.

    Methods of the wrapped curriculum not listed here (e.g. ``sample_weights``) are forwarded too,
    also under the lock. Every call first re-raises a failure of the curriculum in the sync thread.

    Args:
        dispatcher: The dispatcher serving environments; its lock serializes all access.
    """

    _finalizer: weakref.finalize | None = None

    def __init__(self, dispatcher: CurriculumDispatcher) -> None:
        self._dispatcher = dispatcher
        self._lock: threading.RLock = dispatcher.lock
        self.curriculum: Curriculum = dispatcher.curriculum

    def _stop_on_close(self, stop: Callable[..., Any], *args: Any) -> None:
        """Registers ``stop(*args)`` to run once: at [`close`][syllabus.core.curriculum_wrapper.CurriculumWrapper.close], garbage collection or interpreter exit."""
        self._finalizer = weakref.finalize(self, stop, *args)

    def close(self) -> None:
        """Handles every update the environments already sent, then stops serving them. Idempotent."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._dispatcher.raise_if_failed()
            return getattr(self.curriculum, name)(*args, **kwargs)

    @property
    def task_space(self) -> TaskSpace:
        """The curriculum's task space."""
        return self.curriculum.task_space

    @property
    def num_tasks(self) -> int | None:
        """Number of tasks, ``None`` when the task space is not enumerable."""
        return self.curriculum.num_tasks

    @property
    def requires_step_updates(self) -> bool:
        """Whether environments send step updates to this curriculum."""
        return self.curriculum.requires_step_updates

    def sample(self, k: int = 1) -> list[Task]:
        """See [`Curriculum.sample`][syllabus.core.curriculum.Curriculum.sample].

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        return self._call("sample", k)

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """See [`Curriculum.sample_with_metadata`][syllabus.core.curriculum.Curriculum.sample_with_metadata].

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        return self._call("sample_with_metadata", k)

    def task_distribution(self) -> np.ndarray | None:
        """See [`Curriculum.task_distribution`][syllabus.core.curriculum.Curriculum.task_distribution]."""
        return self._call("task_distribution")

    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """See [`Curriculum.update_on_episode`][syllabus.core.curriculum.Curriculum.update_on_episode].

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._call("update_on_episode", episode_return, length, task, progress, env_id=env_id)

    def update_on_step(self, *args: Any, **kwargs: Any) -> None:
        """See [`Curriculum.update_on_step`][syllabus.core.curriculum.Curriculum.update_on_step].

        Args:
            args: The step's values, in the order of ``Curriculum.update_on_step``.
            kwargs: The same values by name.
        """
        self._call("update_on_step", *args, **kwargs)

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """See [`Curriculum.update_on_step_batch`][syllabus.core.curriculum.Curriculum.update_on_step_batch].

        Args:
            batch: Consecutive steps of one env, oldest first (one field per step value).
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._call("update_on_step_batch", batch, env_id=env_id)

    def update_task_progress(self, task: Task, progress: float, env_id: int | None = None) -> None:
        """See [`Curriculum.update_task_progress`][syllabus.core.curriculum.Curriculum.update_task_progress].

        Args:
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._call("update_task_progress", task, progress, env_id=env_id)

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        """See [`Curriculum.custom_update`][syllabus.core.curriculum.Curriculum.custom_update] (e.g. PLR value scores from the learner).

        Args:
            args: Positional arguments of the curriculum's own update (e.g. PLR's rollout arrays).
            kwargs: Keyword arguments, passed on unchanged.
        """
        self._call("custom_update", *args, **kwargs)

    def normalize(self, value: float | np.ndarray, task: Task) -> float | np.ndarray:
        """See [`Curriculum.normalize`][syllabus.core.curriculum.Curriculum.normalize].

        Args:
            value: A return (or array of returns) to standardize.
            task: Task whose recorded return statistics are used.
        """
        return self._call("normalize", value, task)

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """See [`Curriculum.metrics`][syllabus.core.curriculum.Curriculum.metrics].

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        return self._call("metrics", max_tasks)

    def log_metrics(
        self, writer: Any = None, step: int | None = None, max_tasks: int = 10
    ) -> dict[str, float]:
        """See [`Curriculum.log_metrics`][syllabus.core.curriculum.Curriculum.log_metrics].

        Args:
            writer: Where to log: an object with ``add_scalar(tag, value, step)`` (e.g. TensorBoard's ``SummaryWriter``), a dict to update, or ``None`` to only return the metrics.
            step: Global step to log the metrics at (the writer's x axis).
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        return self._call("log_metrics", writer, step, max_tasks)

    def state_dict(self) -> dict[str, Any]:
        """See [`Curriculum.state_dict`][syllabus.core.curriculum.Curriculum.state_dict]."""
        return self._call("state_dict")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """See [`Curriculum.load_state_dict`][syllabus.core.curriculum.Curriculum.load_state_dict].

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.
        """
        self._call("load_state_dict", state)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self.curriculum, name)
        if callable(attr):
            return lambda *args, **kwargs: self._call(name, *args, **kwargs)
        return attr

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.curriculum!r})"
