"""Per-task episode statistics: running mean and standard deviation of return and length."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from syllabus.task_space import TaskSpace


@dataclass
class RunningStat:
    """Exact running mean and variance (Welford's algorithm).

    Args:
        count: Number of observations so far.
        mean: Mean of the observations so far.
        m2: Sum of squared deviations from the mean so far (Welford's ``M2``).
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        """Adds one observation.

        Args:
            value: The new observation.
        """
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    @property
    def var(self) -> float:
        """Population variance (0 with fewer than two observations)."""
        return self.m2 / self.count if self.count > 1 else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return math.sqrt(self.var)


class StatRecorder:
    """Per-task running statistics of episode return and length.

    Statistics are kept per encoded task for enumerable task spaces, and for all tasks together
    (key ``None``) for the others (e.g. Box), so return normalization works for every space.

    Args:
        task_space: The task space whose tasks are recorded.
    """

    def __init__(self, task_space: TaskSpace) -> None:
        self.task_space = task_space
        self._per_task = task_space.is_enumerable
        self.returns: dict[Hashable, RunningStat] = {}
        self.lengths: dict[Hashable, RunningStat] = {}
        self.episodes = 0

    def _key(self, task: Any) -> Hashable:
        return self.task_space.encode(task) if self._per_task else None

    def record(self, episode_return: float, episode_length: int, task: Any) -> None:
        """Records one finished episode of ``task``.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            episode_length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
        """
        key = self._key(task)
        self.returns.setdefault(key, RunningStat()).add(float(episode_return))
        self.lengths.setdefault(key, RunningStat()).add(float(episode_length))
        self.episodes += 1

    def mean_return(self, task: Any) -> float:
        """Mean episode return recorded for ``task`` (0.0 before any episode).

        Args:
            task: Task whose mean return is wanted.
        """
        stat = self.returns.get(self._key(task))
        return stat.mean if stat else 0.0

    def normalize(self, value: float | np.ndarray, task: Any) -> float | np.ndarray:
        """Standardizes a return (or reward) by the running statistics of ``task``.

        While the recorded returns have no spread (e.g. a single episode) the value is only centered.

        Args:
            value: A return (or array of returns) to standardize.
            task: Task whose recorded return statistics are used.
        """
        stat = self.returns.get(self._key(task))
        if stat is None:
            return value
        std = stat.std
        return value - stat.mean if std == 0.0 else (value - stat.mean) / std

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """Scalar metrics for logging: overall and, for up to ``max_tasks`` tasks, per-task means.

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        all_returns = RunningStat()
        for stat in self.returns.values():
            _merge_into(all_returns, stat)
        out = {"stats/episodes": float(self.episodes), "stats/mean_return": all_returns.mean}
        if self._per_task:
            keys = sorted(self.returns, key=lambda k: -self.returns[k].count)[:max_tasks]
            for key in keys:
                out[f"stats/task_{key}/mean_return"] = self.returns[key].mean
                out[f"stats/task_{key}/mean_length"] = self.lengths[key].mean
                out[f"stats/task_{key}/episodes"] = float(self.returns[key].count)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Returns the statistics as plain data."""
        return {
            "episodes": self.episodes,
            "returns": {k: (s.count, s.mean, s.m2) for k, s in self.returns.items()},
            "lengths": {k: (s.count, s.mean, s.m2) for k, s in self.lengths.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores statistics saved by [`state_dict`][syllabus.core.stat_recorder.StatRecorder.state_dict].

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.
        """
        self.episodes = state["episodes"]
        self.returns = {k: RunningStat(*v) for k, v in state["returns"].items()}
        self.lengths = {k: RunningStat(*v) for k, v in state["lengths"].items()}


def _merge_into(total: RunningStat, other: RunningStat) -> None:
    """Merges ``other`` into ``total`` (Chan et al. parallel variance)."""
    if other.count == 0:
        return
    count = total.count + other.count
    delta = other.mean - total.mean
    total.m2 += other.m2 + delta * delta * total.count * other.count / count
    total.mean += delta * other.count / count
    total.count = count
