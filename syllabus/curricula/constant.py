"""A curriculum that always samples the same task."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from syllabus.core.checks import check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.task_space import TaskSpace, TaskSpaceError


class Constant(Curriculum):
    """Always samples ``task``.

    Args:
        task: The task to sample; it must belong to ``task_space``.
        task_space: The tasks of the environment.
        **kwargs: Arguments of [`Curriculum`][syllabus.core.curriculum.Curriculum].

    Raises:
        TaskSpaceError: ``task`` is not in ``task_space``.
    """

    def __init__(self, task: Task, task_space: TaskSpace, **kwargs: Any) -> None:
        super().__init__(task_space, **kwargs)
        if not task_space.contains(task):
            raise TaskSpaceError(f"constant task {task!r} is not in the task space {task_space!r}")
        self.task = task

    def task_distribution(self) -> np.ndarray | None:
        """One-hot on `task` for enumerable task spaces, ``None`` otherwise."""
        if not self.task_space.is_enumerable:
            return None
        dist = np.zeros(self.task_space.require_num_tasks("task_distribution"))
        dist[self.task_space.encode(self.task)] = 1.0
        return dist

    def sample(self, k: int = 1) -> list[Task]:
        """Returns ``k`` copies of `task`.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        return [copy.deepcopy(self.task) for _ in range(k)]

    def __repr__(self) -> str:
        return f"Constant({self.task!r}, {self.task_space!r})"
