"""The interface of Prioritized Level Replay's samplers, and the uniform one of ``strategy="random"``.

A [`PrioritizedLevelReplay`][syllabus.curricula.plr.plr.PrioritizedLevelReplay] picks its sampler
once, at construction: [`CorrectedSampler`][syllabus.curricula.plr.corrected.CorrectedSampler],
[`ReferenceSampler`][syllabus.curricula.plr.reference_sampler.ReferenceSampler] or
[`UniformSampler`][syllabus.curricula.plr.replay.UniformSampler]. The sampler scores rollouts and
draws tasks; the curriculum checks arguments and inputs, decodes tasks and saves state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from syllabus.curricula.plr.records import TaskRecords
from syllabus.curricula.plr.rollouts import Rollout
from syllabus.curricula.plr.scoring import PartialEpisodes
from syllabus.curricula.plr.settings import Settings


class ReplaySampler(ABC):
    """Scores rollouts into the task records and draws tasks from them, in one mode.

    Args:
        settings: The curriculum's settings.
        records: The per-task records, shared with the curriculum.
    """

    # Whether the fixed schedule with rho=0 replays before any task is seen (the reference's quirk).
    replays_before_any_seen = False

    def __init__(self, settings: Settings, records: TaskRecords) -> None:
        self.settings = settings
        self.records = records

    def sample(self, rng: np.random.Generator) -> tuple[int, bool]:
        """Draws the next task and counts it as sampled.

        Args:
            rng: The curriculum's random generator.

        Returns:
            ``(index, replay)``: the task, and whether it was replayed rather than drawn new.
        """
        index, replay = self._choose(rng)
        self.records.record_sample(index)
        return index, replay

    @abstractmethod
    def _choose(self, rng: np.random.Generator) -> tuple[int, bool]:
        """The next task and whether it is a replay (before [`sample`][syllabus.curricula.plr.replay.ReplaySampler.sample] counts it)."""

    @abstractmethod
    def update(self, rollout: Rollout) -> None:
        """Scores the episodes of a checked rollout.

        Args:
            rollout: The rollout.
        """

    @abstractmethod
    def sample_weights(self) -> np.ndarray:
        """The replay weights over all tasks (``PrioritizedLevelReplay.sample_weights``)."""

    @abstractmethod
    def replay_distribution(self) -> np.ndarray:
        """The distribution of a replay draw over all tasks."""

    def replay_probability(self) -> float:
        """Probability that the next sample is a replay, by the replay schedule."""
        settings, records = self.settings, self.records
        num_unseen, n = len(records.unseen), records.num_tasks
        if num_unseen == 0:
            return 1.0
        seen_fraction = (n - num_unseen) / n
        if seen_fraction < settings.rho or (num_unseen == n and not self.replays_before_any_seen):
            return 0.0
        return settings.replay_prob if settings.replay_schedule == "fixed" else seen_fraction

    def _decide_replay(self, p_replay: float, rng: np.random.Generator) -> bool:
        """Whether to replay, drawing a random number only when the outcome is not certain."""
        return p_replay == 1.0 or (p_replay > 0.0 and rng.random() < p_replay)

    def task_distribution(self) -> np.ndarray:
        """Probability of each task at the next sample, new-task draws included."""
        p_replay = self.replay_probability()
        unseen = self.records.unseen
        dist = np.zeros(self.records.num_tasks)
        if p_replay > 0:
            dist += p_replay * self.replay_distribution()
        if p_replay < 1.0:
            dist[unseen.items] += (1.0 - p_replay) / len(unseen)
        return dist

    def state_dict(self) -> dict[str, Any]:
        """The sampler's own entries of PLR's ``state_dict()["plr"]``.

        Every sampler saves every entry, the ones it does not use at their initial values, so that
        states of all modes have one layout; subclasses override the entries they use.
        """
        n = self.records.num_tasks
        return {
            "rank_order": np.zeros(0, dtype=np.int64),
            "max_returns": np.full(n, -np.inf),
            "partial": PartialEpisodes().state_dict(),
            "previous_last_done": np.zeros(0, dtype=np.bool_),
            "stale_poisoned": np.zeros(n, dtype=np.bool_),
        }

    def load_state_dict(self, plr: dict[str, Any]) -> None:  # noqa: B027 - subclasses with no state keep it
        """Restores the entries saved by [`state_dict`][syllabus.curricula.plr.replay.ReplaySampler.state_dict], after the records.

        Args:
            plr: PLR's ``state_dict()["plr"]``.
        """


class UniformSampler(ReplaySampler):
    """``strategy="random"``: every task equally likely; rollouts are checked and ignored.

    A sample is a replay when its task was seen before.
    """

    def _choose(self, rng: np.random.Generator) -> tuple[int, bool]:
        n = self.records.num_tasks
        index = min(int(rng.random() * n), n - 1)
        replay = index not in self.records.unseen
        if not replay:
            self.records.mark_seen(index)
        return index, replay

    def update(self, rollout: Rollout) -> None:
        """Ignores the rollout.

        Args:
            rollout: The rollout.
        """

    def sample_weights(self) -> np.ndarray:
        """The uniform distribution over all tasks."""
        n = self.records.num_tasks
        return np.full(n, 1.0 / n)

    def replay_distribution(self) -> np.ndarray:
        """The uniform distribution over all tasks."""
        return self.sample_weights()

    def task_distribution(self) -> np.ndarray:
        """The uniform distribution over all tasks."""
        return self.sample_weights()
