"""Schedules over continuous (Box) task spaces: linear annealing and an expanding sub-box."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from syllabus.core.checks import check_count, check_number, check_progress, check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.core.errors import CurriculumError
from syllabus.task_space import BoxTaskSpace, TaskSpace


def _box_space(name: str, task_space: TaskSpace) -> BoxTaskSpace:
    if not isinstance(task_space, BoxTaskSpace):
        raise ValueError(f"{name} needs a BoxTaskSpace, got {task_space!r}")
    return task_space


def _box_point(task_space: BoxTaskSpace, name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array, after checking it is a task of ``task_space``."""
    if not task_space.contains(value):
        raise ValueError(
            f"{name} must be a task of {task_space!r} (shape {task_space.shape} within the bounds), got {value!r}"
        )
    return np.asarray(task_space.encode(value), dtype=np.float64)


class SimulatedAnnealing(Curriculum):
    """Moves the task linearly from ``start`` to ``end`` over ``total_steps`` environment steps.

    Steps are the summed lengths of episode updates; after ``total_steps`` the task stays at
    ``end``. Sampling is deterministic: every sample is the current interpolated task, with no
    noise, so all environments run the same task at a time.

    Args:
        task_space: A [`BoxTaskSpace`][syllabus.task_space.box.BoxTaskSpace].
        start: The first task.
        end: The last task.
        total_steps: Environment steps from ``start`` to ``end``, a positive integer.
        random_seed: Seed of the curriculum's random generator (unused by sampling).
        record_stats: Keep return/length statistics.

    Raises:
        ValueError: The task space is not a Box, ``start`` or ``end`` is not in it, or
            ``total_steps`` is not a positive integer.
    """

    def __init__(
        self,
        task_space: TaskSpace,
        start: Task,
        end: Task,
        total_steps: int,
        *,
        random_seed: int | None = None,
        record_stats: bool = False,
    ) -> None:
        super().__init__(task_space, random_seed=random_seed, record_stats=record_stats)
        space = _box_space(type(self).__name__, task_space)
        self.start = _box_point(space, "start", start)
        self.end = _box_point(space, "end", end)
        self.total_steps = check_count("total_steps", total_steps, 1)
        self.steps = 0

    @property
    def fraction(self) -> float:
        """How far the schedule has moved from ``start`` (0) to ``end`` (1)."""
        return min(self.steps / self.total_steps, 1.0)

    def sample(self, k: int = 1) -> list[Task]:
        """Returns ``k`` copies of the current task.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        task = self.start + self.fraction * (self.end - self.start)
        return [self.task_space.decode(task) for _ in range(k)]

    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Advances the schedule by the episode's ``length`` steps.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        super().update_on_episode(episode_return, length, task, progress, env_id)
        self.steps += int(length)

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """The base metrics and ``curriculum/anneal_fraction``.

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        return {**super().metrics(max_tasks), "curriculum/anneal_fraction": self.fraction}

    def state_dict(self) -> dict[str, Any]:
        """The base state and the step count."""
        return {**super().state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state saved by [`state_dict`][syllabus.curricula.box_schedules.SimulatedAnnealing.state_dict].

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.
        """
        super().load_state_dict(state)
        self.steps = state["steps"]


class ExpandingBox(Curriculum):
    """Samples uniformly from a sub-box that widens while the agent succeeds.

    Starts with the box ``[initial_low, initial_high]``. When the mean ``progress`` of the last
    ``window`` episodes reaches ``success_threshold``, each side of the box moves outwards by
    ``expand_fraction`` of the task space's range, clipped to the space's bounds, and the window
    is emptied. Episodes need ``progress`` (the environment's ``info["task_completion"]``).

    Args:
        task_space: A [`BoxTaskSpace`][syllabus.task_space.box.BoxTaskSpace].
        initial_low: Lower corner of the first sub-box, a task of the space.
        initial_high: Upper corner of the first sub-box, a task of the space.
        success_threshold: Mean progress over the window that triggers a widening, in [0, 1].
        window: Number of consecutive episodes averaged, a positive integer.
        expand_fraction: Share of the space's range added on each side per widening, in (0, 1].
        random_seed: Seed of the curriculum's random generator.
        record_stats: Keep return/length statistics.

    Raises:
        ValueError: The task space is not a Box, an initial corner is not in it or
            ``initial_low > initial_high``, or another argument is out of range.
    """

    def __init__(
        self,
        task_space: TaskSpace,
        initial_low: Task,
        initial_high: Task,
        *,
        success_threshold: float = 0.8,
        window: int = 20,
        expand_fraction: float = 0.1,
        random_seed: int | None = None,
        record_stats: bool = False,
    ) -> None:
        super().__init__(task_space, random_seed=random_seed, record_stats=record_stats)
        space = _box_space(type(self).__name__, task_space)
        self.low = _box_point(space, "initial_low", initial_low)
        self.high = _box_point(space, "initial_high", initial_high)
        if (self.low > self.high).any():
            raise ValueError(f"initial_low must be <= initial_high, got {initial_low!r} and {initial_high!r}")
        self.success_threshold = check_number("success_threshold", success_threshold, 0.0, 1.0)
        self.expand_fraction = check_number("expand_fraction", expand_fraction, 0.0, 1.0, open_low=True)
        self._space = space
        self._step = self.expand_fraction * (space.high.astype(np.float64) - space.low)
        self._progress: deque[float] = deque(maxlen=check_count("window", window, 1))
        self.expansions = 0

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks uniformly from the current sub-box.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        return [self.task_space.decode(self.rng.uniform(self.low, self.high)) for _ in range(k)]

    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Adds the episode's progress to the window and widens the box when the window succeeds.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.

        Raises:
            CurriculumError: The episode came without ``progress``.
        """
        if progress is None:
            raise CurriculumError(
                f"ExpandingBox needs the progress of each episode, but the episode of task {task!r} came "
                "without it: report progress (0 to 1) in info['task_completion'] from the environment"
            )
        progress = check_progress(progress)
        super().update_on_episode(episode_return, length, task, progress, env_id)
        self._progress.append(progress)
        if len(self._progress) == self._progress.maxlen and np.mean(self._progress) >= self.success_threshold:
            self._expand()

    def _expand(self) -> None:
        self.low = np.maximum(self.low - self._step, self._space.low)
        self.high = np.minimum(self.high + self._step, self._space.high)
        self._progress.clear()
        self.expansions += 1

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """The base metrics and ``curriculum/box_expansions``.

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        return {**super().metrics(max_tasks), "curriculum/box_expansions": float(self.expansions)}

    def state_dict(self) -> dict[str, Any]:
        """The base state, the sub-box, the progress window and the number of widenings."""
        return {
            **super().state_dict(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "progress": list(self._progress),
            "expansions": self.expansions,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state saved by [`state_dict`][syllabus.curricula.box_schedules.ExpandingBox.state_dict].

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.
        """
        super().load_state_dict(state)
        self.low = np.array(state["low"], dtype=np.float64)
        self.high = np.array(state["high"], dtype=np.float64)
        self._progress = deque(state["progress"], maxlen=self._progress.maxlen)
        self.expansions = state["expansions"]
