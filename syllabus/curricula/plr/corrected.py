"""The corrected mode of Prioritized Level Replay (the default): its scoring and its replay sampler."""

from __future__ import annotations

from typing import Any

import numpy as np

from syllabus.curricula.plr.records import TaskRecords
from syllabus.curricula.plr.replay import ReplaySampler
from syllabus.curricula.plr.rollouts import Rollout
from syllabus.curricula.plr.sampling import CdfSampler, RankedTasks, transform
from syllabus.curricula.plr.scoring import PartialEpisodes, gae, smooth_scores, split_segments, step_scores
from syllabus.curricula.plr.settings import Settings


class CorrectedSampler(ReplaySampler):
    """``mode="corrected"``: the rules that [`PrioritizedLevelReplay`][syllabus.curricula.plr.plr.PrioritizedLevelReplay] documents.

    A task is seen once sampled or scored; episodes that span rollouts are scored whole; only
    scored tasks take part in the score distribution; a mixture component without mass gives its
    share to the other. Score weights are recomputed at each update, so a replay costs O(log n)
    with the default staleness transform.

    Args:
        settings: The curriculum's settings.
        records: The per-task records, shared with the curriculum.
    """

    def __init__(self, settings: Settings, records: TaskRecords) -> None:
        super().__init__(settings, records)
        n = records.num_tasks
        self._max_returns = np.full(n, -np.inf)  # each task's highest lambda-return (max_mc)
        self._partial = PartialEpisodes()
        self._ranked = RankedTasks(n, settings.temperature)
        self._score_sampler = CdfSampler(np.zeros(n))

    # ----------------------------------------------------------------- sampling
    def _choose(self, rng: np.random.Generator) -> tuple[int, bool]:
        records = self.records
        replay = self._decide_replay(self.replay_probability(), rng)
        index = self._sample_replay(rng) if replay else records.unseen.pick(rng.random())
        if index in records.unseen:
            records.mark_seen(index)
        return index, replay

    def _sample_replay(self, rng: np.random.Generator) -> int:
        records, settings = self.records, self.settings
        if settings.linear_staleness:
            staleness_mass = records.staleness.total(records.count)
        else:
            seen, staleness_weights = self._staleness_weights()
            staleness_mass = staleness_weights.sum()
        scores = self._score_sampler
        if scores.total > 0 and (staleness_mass <= 0 or rng.random() >= settings.staleness_coef):
            return scores.sample(rng.random())
        if staleness_mass > 0:
            if settings.linear_staleness:
                return records.staleness.sample(rng.random(), records.count)
            return int(seen[CdfSampler(staleness_weights).sample(rng.random())])
        seen_list = records.seen_list
        return seen_list[min(int(rng.random() * len(seen_list)), len(seen_list) - 1)]

    def _staleness_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Seen task indices (ascending) and their transformed staleness."""
        records, settings = self.records, self.settings
        seen = np.flatnonzero(records.seen)
        staleness = (records.count - records.last_sampled[seen]).astype(np.float64)
        return seen, transform(
            settings.staleness_transform, staleness, settings.staleness_temperature, settings.eps
        )

    def sample_weights(self) -> np.ndarray:
        """The score and staleness distributions mixed, a component without mass giving its share to
        the other; with neither, uniform over seen tasks."""
        n, coef = self.records.num_tasks, self.settings.staleness_coef
        score_probs = _normalized(self._score_sampler.weights)
        seen, staleness_weights = self._staleness_weights()
        all_staleness = np.zeros(n)
        all_staleness[seen] = staleness_weights
        staleness_probs = _normalized(all_staleness)
        if score_probs is not None and staleness_probs is not None:
            return (1.0 - coef) * score_probs + coef * staleness_probs
        if score_probs is not None:
            return score_probs
        if staleness_probs is not None:
            return staleness_probs
        uniform = np.zeros(n)
        uniform[seen] = 1.0 / max(len(seen), 1)
        return uniform

    def replay_distribution(self) -> np.ndarray:
        """The distribution of a replay draw: [`sample_weights`][syllabus.curricula.plr.corrected.CorrectedSampler.sample_weights]."""
        return self.sample_weights()

    # ------------------------------------------------------------------ updates
    def update(self, rollout: Rollout) -> None:
        """Scores each episode segment, whole episodes across rollouts, in env order then time order.

        Args:
            rollout: The rollout.
        """
        settings, records = self.settings, self.records
        tasks, rewards, dones, values, next_values, action_log_dist = rollout
        advantages, td_errors = gae(rewards, values, dones, next_values, settings.gamma, settings.gae_lambda)
        segments = split_segments(tasks, dones)
        if settings.strategy == "max_mc":
            np.maximum.at(self._max_returns, segments.task, segments.maxima(advantages + values))
            per_step = self._max_returns[tasks] - values
        else:
            per_step = step_scores(settings.strategy, advantages, td_errors, action_log_dist)
        sums = segments.sums(per_step)
        counts = segments.lengths.copy()
        self._partial.merge(segments, sums, counts)
        updated, scores = smooth_scores(
            records.scores, records.scored, segments.task, sums / counts, settings.alpha
        )
        records.set_scores(updated, scores)
        if settings.score_transform == "rank":
            self._ranked.update(records.scores, updated)
        self._refresh_score_sampler()

    def _refresh_score_sampler(self) -> None:
        settings, records = self.settings, self.records
        if settings.score_transform == "rank":
            weights = self._ranked.weights()
        else:
            scored = np.flatnonzero(records.scored)
            weights = np.zeros(records.num_tasks)
            weights[scored] = transform(
                settings.score_transform, records.scores[scored], settings.temperature, settings.eps
            )
        self._score_sampler = CdfSampler(weights)

    # -------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The rank order, the highest returns and the carried partial episodes."""
        return {
            **super().state_dict(),
            "rank_order": self._ranked.order.copy(),
            "max_returns": self._max_returns.copy(),
            "partial": self._partial.state_dict(),
        }

    def load_state_dict(self, plr: dict[str, Any]) -> None:
        """Restores the entries saved by [`state_dict`][syllabus.curricula.plr.corrected.CorrectedSampler.state_dict], after the records.

        Args:
            plr: PLR's ``state_dict()["plr"]``.
        """
        self._max_returns = np.array(plr["max_returns"], dtype=np.float64)
        self._partial.load_state_dict(plr["partial"])
        self._ranked = RankedTasks(self.records.num_tasks, self.settings.temperature, plr["rank_order"])
        self._refresh_score_sampler()


def _normalized(weights: np.ndarray) -> np.ndarray | None:
    total = weights.sum()
    return weights / total if total > 0 else None
