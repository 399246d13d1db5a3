"""Learning-progress curriculum (Kanitscheider et al. 2021, as used in OMNI, Zhang et al. 2023)."""

from __future__ import annotations

import numpy as np

from syllabus.core.checks import check_number
from syllabus.curricula.success_curriculum import SuccessCurriculum
from syllabus.task_space import TaskSpace


class LearningProgress(SuccessCurriculum):
    """Samples tasks whose success rate is changing fastest.

    From "Multi-task curriculum learning in a complex, visual, hard-exploration domain: Minecraft"
    (Kanitscheider et al. 2021) in the formulation of OMNI (Zhang et al. 2023), run online: each
    episode update is a success observation ``s`` of its task (see [`SuccessCurriculum`][syllabus.curricula.success_curriculum.SuccessCurriculum]),
    and no separate evaluation is needed. Per task, with ``a = ema_alpha``::

        fast <- a * s + (1 - a) * fast          # both start at the task's first observation
        slow <- a * fast + (1 - a) * slow       # a slow EMA of the fast EMA
        lp = |r(fast) - r(slow)|,  r(p) = p (1 - theta) / (p + theta (1 - 2 p)),  theta = p_theta

    The reweighting ``r`` stretches differences near success rates 0 and 1. Sampling weights are
    ``sigmoid(z)`` of the z-scores of ``lp`` over all tasks, normalized and mixed with the uniform
    distribution: ``(1 - eps) * weights + eps / num_tasks``. Tasks without data have ``lp = 0``;
    unlike OMNI, zero-progress tasks are not excluded, so unplayed tasks keep being tried.

    Args:
        task_space: An enumerable task space.
        ema_alpha: Smoothing factor of both EMAs, in (0, 1].
        p_theta: Reweighting parameter ``theta``, in (0, 1).
        eps: Share of the uniform distribution, in [0, 1].
        success_threshold: Return at or above which an episode without ``progress`` counts as a
            success (1.0, else 0.0). Without it every episode update needs ``progress``.
        random_seed: Seed of the curriculum's random generator.
        record_stats: Keep per-task return/length statistics.

    Raises:
        ValueError: The task space is not enumerable, or an argument is out of range.
    """

    _STATE_ARRAYS = ("counts", "fast", "slow", "lp")

    def __init__(
        self,
        task_space: TaskSpace,
        *,
        ema_alpha: float = 0.1,
        p_theta: float = 0.1,
        eps: float = 0.05,
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
        self.ema_alpha = check_number("ema_alpha", ema_alpha, 0.0, 1.0, open_low=True)
        self.p_theta = check_number("p_theta", p_theta, 0.0, 1.0, open_low=True, open_high=True)
        self.fast = np.zeros(self.num_tasks)
        self.slow = np.zeros(self.num_tasks)
        self.lp = np.zeros(self.num_tasks)

    def _reweight(self, p: float) -> float:
        theta = self.p_theta
        return p * (1.0 - theta) / (p + theta * (1.0 - 2.0 * p))

    def _observe(self, index: int, success: float) -> None:
        alpha = self.ema_alpha
        if self.counts[index] == 1:
            fast = slow = success
        else:
            fast = alpha * success + (1.0 - alpha) * self.fast[index]
            slow = alpha * fast + (1.0 - alpha) * self.slow[index]
        self.fast[index] = fast
        self.slow[index] = slow
        self.lp[index] = abs(self._reweight(fast) - self._reweight(slow))

    def _weights(self) -> np.ndarray:
        z = self.lp - self.lp.mean()
        std = self.lp.std()
        if std > 0:
            z /= std
        # sigmoid(z) = 1 / (1 + exp(-z)), in place; exp overflows to inf (weight 0) only below z = -709.
        with np.errstate(over="ignore"):
            np.exp(np.negative(z, out=z), out=z)
        z += 1.0
        return np.reciprocal(z, out=z)
