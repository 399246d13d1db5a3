"""Learnability curriculum (Sampling For Learnability, Rutherford et al. 2024)."""

from __future__ import annotations

import numpy as np

from syllabus.core.checks import check_number, check_optional_count
from syllabus.curricula.success_curriculum import SuccessCurriculum
from syllabus.task_space import TaskSpace

UNPLAYED_SCORE = 0.25
"""Score of tasks without data: the maximum of ``p (1 - p)``, so every task gets tried."""


class Learnability(SuccessCurriculum):
    """Samples tasks the agent solves sometimes but not always.

    From "No Regrets: Investigating and Improving Regret Approximations for Curriculum
    Discovery" (SFL, Rutherford et al. 2024), run online: each episode update is a success
    observation of its task (see [`SuccessCurriculum`][syllabus.curricula.success_curriculum.SuccessCurriculum]). A task's success rate ``p`` is the
    running mean of its observations, or their EMA with factor ``ema_alpha`` (starting at the
    first observation) when given. Its learnability score is ``p (1 - p)``; tasks without data
    score `UNPLAYED_SCORE`.

    Tasks are sampled in proportion to their score or, with ``top_k``, uniformly among the
    ``top_k`` highest-scoring tasks with a positive score (ties go to the lower encoding), mixed
    with the uniform distribution: ``(1 - eps) * weights + eps / num_tasks``. When no task has a
    positive score the distribution is uniform.

    Args:
        task_space: An enumerable task space.
        top_k: Sample only among this many highest-scoring tasks, in [1, num_tasks]; None samples
            in proportion to the scores.
        eps: Share of the uniform distribution, in [0, 1].
        ema_alpha: EMA factor of the success rate, in (0, 1]; None uses the running mean.
        success_threshold: Return at or above which an episode without ``progress`` counts as a
            success (1.0, else 0.0). Without it every episode update needs ``progress``.
        random_seed: Seed of the curriculum's random generator.
        record_stats: Keep per-task return/length statistics.

    Raises:
        ValueError: The task space is not enumerable, or an argument is out of range.
    """

    _STATE_ARRAYS = ("counts", "success_rate")

    def __init__(
        self,
        task_space: TaskSpace,
        *,
        top_k: int | None = None,
        eps: float = 0.05,
        ema_alpha: float | None = None,
        success_threshold: float | None = None,
        random_seed: int | None = None,
        record_stats: bool = False,
    ) -> None:
        super().__init__(
            task_space,
            eps=eps,
            success_threshold=success_threshold,
            random_seed=random_seed,
            record_stats=record_stats,
        )
        self.top_k = check_optional_count("top_k", top_k, 1, maximum=self.num_tasks, note="num_tasks")
        self.ema_alpha = (
            None if ema_alpha is None else check_number("ema_alpha", ema_alpha, 0.0, 1.0, open_low=True)
        )
        self.success_rate = np.zeros(self.num_tasks)

    def scores(self) -> np.ndarray:
        """Learnability score ``p (1 - p)`` of every task (`UNPLAYED_SCORE` without data)."""
        p = self.success_rate
        return np.where(self.counts > 0, p * (1.0 - p), UNPLAYED_SCORE)

    def _observe(self, index: int, success: float) -> None:
        p = self.success_rate[index]
        if self.ema_alpha is None or self.counts[index] == 1:
            self.success_rate[index] = p + (success - p) / self.counts[index]
        else:
            self.success_rate[index] = self.ema_alpha * success + (1.0 - self.ema_alpha) * p

    def _weights(self) -> np.ndarray:
        scores = self.scores()
        if self.top_k is None:
            return scores
        kth = np.partition(scores, -self.top_k)[-self.top_k]  # the top_k-th highest score, in O(n)
        chosen = scores > kth
        ties = np.flatnonzero(scores == kth)[: self.top_k - np.count_nonzero(chosen)]
        chosen[ties] = True
        return (chosen & (scores > 0)).astype(np.float64)
