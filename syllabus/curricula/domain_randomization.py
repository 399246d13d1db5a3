"""A curriculum that samples tasks uniformly at random."""

from __future__ import annotations

from typing import Any

import numpy as np

from syllabus.core.checks import check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.task_space import TaskSpace


class DomainRandomization(Curriculum):
    """Samples tasks uniformly from any task space (Box spaces included).

    Args:
        task_space: The tasks of the environment.
        **kwargs: Arguments of [`Curriculum`][syllabus.core.curriculum.Curriculum].
    """

    def __init__(self, task_space: TaskSpace, **kwargs: Any) -> None:
        super().__init__(task_space, **kwargs)

    def task_distribution(self) -> np.ndarray | None:
        """Uniform over the tasks of enumerable spaces, ``None`` otherwise."""
        n = self.num_tasks
        if n is None:
            return None
        return np.full(n, 1.0 / n)

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks uniformly and independently.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        n = self.num_tasks
        if n is None:
            return [self.task_space.sample(rng=self.rng) for _ in range(k)]
        if k == 1:  # the sync backends' case: numpy's scalar path is several times faster, same stream
            return [self.task_space.decode(int(self.rng.integers(n)))]
        indices = self.rng.integers(n, size=k)
        return [self.task_space.decode(int(i)) for i in indices]
