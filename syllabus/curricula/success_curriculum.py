"""Shared machinery of curricula that sample enumerable tasks by their estimated success rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from syllabus.core.checks import check_number, check_progress, check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.core.errors import CurriculumError
from syllabus.task_space import TaskSpace


class SuccessCurriculum(Curriculum):
    """Base of curricula that sample enumerable tasks by a score of their estimated success rate.

    Every episode update becomes a success observation in [0, 1]: the episode's ``progress``
    (reported by the environment in ``info["task_completion"]``) when given, else ``1.0`` if the
    return reaches ``success_threshold`` and ``0.0`` otherwise. [`update_task_progress`][syllabus.curricula.success_curriculum.SuccessCurriculum.update_task_progress] adds
    an observation too. Updates are O(1); the sampling distribution
    ``(1 - eps) * weights + eps * uniform`` is recomputed, vectorized, only on the first sample
    after an update. It is uniform until a task has data.

    Subclasses fold observations into per-task arrays in `_observe`, turn the arrays into
    sampling weights in `_weights`, and list the arrays to save in ``_STATE_ARRAYS``.

    Args:
        task_space: An enumerable task space.
        eps: Share of the uniform distribution mixed into the sampling distribution, in [0, 1].
        success_threshold: Episode return at or above which an episode without progress succeeds.
        random_seed: Seed of the curriculum's random generator.
        record_stats: Keep per-task return/length statistics.

    Raises:
        ValueError: The task space is not enumerable, or an argument is out of range.
    """

    _STATE_ARRAYS: tuple[str, ...] = ("counts",)

    def __init__(
        self,
        task_space: TaskSpace,
        *,
        eps: float,
        success_threshold: float | None,
        random_seed: int | None,
        record_stats: bool,
    ) -> None:
        super().__init__(task_space, random_seed=random_seed, record_stats=record_stats)
        self._n = task_space.require_num_tasks(type(self).__name__)
        self.eps = check_number("eps", eps, 0.0, 1.0)
        if success_threshold is not None:
            success_threshold = check_number(
                "success_threshold", success_threshold, -math.inf, math.inf, open_low=True, open_high=True
            )
        self.success_threshold = success_threshold
        self.counts = np.zeros(self.num_tasks, dtype=np.int64)
        self._dist: np.ndarray | None = None
        self._cdf = np.zeros(0)

    # ----------------------------------------------------------------- updates
    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Records a success observation of ``task`` from its progress or its return.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.

        Raises:
            CurriculumError: ``progress`` is None and no ``success_threshold`` was set.
        """
        if progress is not None:
            success = check_progress(progress)
        elif self.success_threshold is not None:
            success = 1.0 if episode_return >= self.success_threshold else 0.0
        else:
            raise CurriculumError(
                f"{type(self).__name__} needs the success of each episode, but the episode of task {task!r} "
                "came without progress: report progress (0 to 1) in info['task_completion'] from the "
                "environment, or construct the curriculum with success_threshold=<episode return that counts as success>"
            )
        super().update_on_episode(episode_return, length, task, progress, env_id)
        self._add(task, success)

    def update_task_progress(self, task: Task, progress: float, env_id: int | None = None) -> None:
        """Records ``progress`` (0 to 1) as a success observation of ``task``.

        Args:
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._add(task, check_progress(progress))

    def _add(self, task: Task, success: float) -> None:
        index = self.task_space.encode(task)
        self.counts[index] += 1
        self._observe(index, success)
        self._dist = None

    def _observe(self, index: int, success: float) -> None:
        """Folds one success observation of task ``index`` into the estimates (``counts`` already counts it)."""
        raise NotImplementedError

    def _weights(self) -> np.ndarray:
        """Non-negative sampling weights of all tasks (normalized by the caller), once some task has data."""
        raise NotImplementedError

    @property
    def num_tasks(self) -> int:
        """Number of tasks (the task space is enumerable)."""
        return self._n

    # ---------------------------------------------------------------- sampling
    def _refresh(self) -> np.ndarray:
        n = self._n
        if self.counts.any():
            weights = self._weights()
            total = weights.sum()
            dist = weights * ((1.0 - self.eps) / total) if total > 0 else np.full(n, (1.0 - self.eps) / n)
            dist += self.eps / n
        else:
            dist = np.full(n, 1.0 / n)
        self._dist = dist
        self._cdf = np.cumsum(dist)
        return dist

    def task_distribution(self) -> np.ndarray:
        """Probability of sampling each encoded task."""
        dist = self._refresh() if self._dist is None else self._dist
        return dist.copy()

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks independently from [`task_distribution`][syllabus.curricula.success_curriculum.SuccessCurriculum.task_distribution]; never blocks.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        if self._dist is None:
            self._refresh()
        draws = self.rng.random(k) * self._cdf[-1]
        indices = np.minimum(np.searchsorted(self._cdf, draws, side="right"), self.num_tasks - 1)
        return [self.task_space.decode(int(i)) for i in indices]

    # ------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The base state and the per-task estimates."""
        state = super().state_dict()
        state.update({name: getattr(self, name).tolist() for name in self._STATE_ARRAYS})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state saved by [`state_dict`][syllabus.curricula.success_curriculum.SuccessCurriculum.state_dict] of a curriculum over the same number of tasks.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.

        Raises:
            ValueError: The state holds estimates for a different number of tasks.
        """
        if len(state["counts"]) != self.num_tasks:
            raise ValueError(
                f"the state has {len(state['counts'])} tasks, this curriculum has {self.num_tasks}"
            )
        super().load_state_dict(state)
        for name in self._STATE_ARRAYS:
            current = getattr(self, name)
            setattr(self, name, np.array(state[name], dtype=current.dtype))
        self._dist = None
