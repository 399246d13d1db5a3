"""The reference mode of Prioritized Level Replay as a sampler: scores, replay weights and draws of
facebookresearch/level-replay, kept fast at a million tasks (the formulas are in `reference`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from syllabus.core.errors import ReferenceModeError
from syllabus.curricula.plr import reference
from syllabus.curricula.plr.records import TaskRecords
from syllabus.curricula.plr.reference import ReferenceRanks
from syllabus.curricula.plr.replay import ReplaySampler
from syllabus.curricula.plr.rollouts import Rollout
from syllabus.curricula.plr.sampling import CdfSampler
from syllabus.curricula.plr.scoring import gae, smooth_scores
from syllabus.curricula.plr.settings import Settings


class ReferenceSampler(ReplaySampler):
    """``mode="reference"``: the reference's ``LevelSampler`` fed by its ``RolloutStorage``.

    A task is seen once scored; sampling alone does not make it seen. The score component of the
    replay weights is computed at the first sample after an update (O(n), with the rank order kept
    by [`ReferenceRanks`][syllabus.curricula.plr.reference.ReferenceRanks]); a replay then costs
    O(log n) with the default staleness transform or none.

    Args:
        settings: The curriculum's settings.
        records: The per-task records, shared with the curriculum.
    """

    replays_before_any_seen = True

    def __init__(self, settings: Settings, records: TaskRecords) -> None:
        super().__init__(settings, records)
        n = records.num_tasks
        # Each env's last done of the previous rollout (the storage's first mask row).
        self._previous_last_done = np.zeros(0, dtype=np.bool_)
        # Tasks whose staleness the reference's 'max' transform has set to -inf, whether every task
        # needs looking at again, and the tasks sampled since the last look (see _poison).
        self._stale_poisoned = np.zeros(n, dtype=np.bool_)
        self._poison_all = True
        self._poison_pending: list[int] = []
        self._ranks = self._new_ranks()
        # The score component of the replay weights and a sampler of it, computed when needed.
        self._score_weights: np.ndarray | None = None
        self._score_sampler: CdfSampler | None = None

    def _new_ranks(self) -> ReferenceRanks | None:
        """The kept rank order of the scored tasks, for the ``rank`` score transform."""
        if self.settings.score_transform != "rank":
            return None
        records = self.records
        return ReferenceRanks(records.num_tasks, self.settings.temperature, records.scores, records.scored)

    # ----------------------------------------------------------------- sampling
    def _choose(self, rng: np.random.Generator) -> tuple[int, bool]:
        records = self.records
        p_replay = self.replay_probability()
        draw = self._replay_draw(rng) if p_replay > 0 else None
        replay = self._decide_replay(p_replay, rng)
        if replay and draw is not None:
            self._poison()
            index = draw()
        else:
            index = records.unseen.pick(rng.random())
        if self._stale_poisoned[index]:
            self._stale_poisoned[index] = False
            self._poison_pending.append(index)
        return index, replay

    def _replay_draw(self, rng: np.random.Generator) -> Callable[[], int]:
        """A function that draws one replay, after checking the reference could.

        With the default staleness (``power``, temperature 1) or none, and valid score weights,
        it draws a mixture component, then a task from it in O(log n); otherwise it samples the
        full distribution of `_distribution`.
        """
        settings, records = self.settings, self.records
        self._current_score_weights()
        scores = self._score_sampler
        if scores is not None and (settings.staleness_coef == 0 or settings.linear_staleness):
            score_mass = (1.0 - settings.staleness_coef) * scores.total
            staleness_mass = settings.staleness_coef * (records.staleness.total(records.count) > 0)
            total = score_mass + staleness_mass
            n = records.num_tasks
            if abs(total) <= reference.ZERO_ATOL:
                return lambda: min(int(rng.random() * n), n - 1)
            if abs(total - 1.0) <= reference.CHOICE_ATOL:
                return lambda: (
                    scores.sample(rng.random())
                    if rng.random() * total < score_mass
                    else records.staleness.sample(rng.random(), records.count)
                )
        distribution = CdfSampler(self._distribution()[1])
        return lambda: distribution.sample(rng.random())

    def _current_score_weights(self) -> np.ndarray:
        """The score component, and a sampler of it if its weights are valid."""
        if self._score_weights is None:
            settings, records = self.settings, self.records
            if self._ranks is not None:
                self._score_weights = self._ranks.weights(records.scores, records.scored)
            else:
                self._score_weights = reference.weights(
                    settings.score_transform,
                    records.scores,
                    records.scored,
                    settings.temperature,
                    settings.eps,
                    settings.staleness_coef,
                )
            valid = np.isfinite(self._score_weights).all() and (self._score_weights >= 0).all()
            self._score_sampler = CdfSampler(self._score_weights) if valid else None
        return self._score_weights

    def _distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sample_weights, replay distribution)`` (see `reference.replay_distribution`)."""
        settings, records = self.settings, self.records
        staleness = None
        if settings.staleness_coef > 0:
            values = (records.count - records.last_sampled).astype(np.float64)
            values[self._stale_poisoned] = -np.inf
            staleness = reference.weights(
                settings.staleness_transform,
                values,
                records.scored,
                settings.staleness_temperature,
                settings.eps,
                settings.staleness_coef,
            )
        return reference.replay_distribution(
            self._current_score_weights(),
            staleness,
            settings.staleness_coef,
            (settings.score_transform, settings.staleness_transform),
        )

    def sample_weights(self) -> np.ndarray:
        """The weights the reference's ``sample_weights()`` returns.

        Raises:
            ReferenceModeError: If the reference could not sample from them.
        """
        return self._distribution()[0]

    def replay_distribution(self) -> np.ndarray:
        """The distribution of a replay draw: the weights, or uniform over all tasks when they sum to 0.

        Raises:
            ReferenceModeError: If the reference could not sample from the weights.
        """
        return self._distribution()[1]

    def _poison(self) -> None:
        """What the reference's ``sample_weights()`` does to unseen tasks' values.

        Its ``max`` transform writes ``-inf`` into the scores (and staleness) of unseen tasks
        through a numpy view. ``train.py`` calls it on every replay draw and after every update.
        Tasks only ever become scored, and only a sample clears a task's staleness flag, so after
        the first pass only the tasks sampled since need looking at: a replay draw stays O(log n).
        """
        settings, records = self.settings, self.records
        poison_scores = settings.score_transform == "max"
        poison_staleness = settings.staleness_transform == "max" and settings.staleness_coef > 0
        if not (poison_scores or poison_staleness):
            return
        if self._poison_all:
            unseen = ~records.scored
            if poison_scores:
                records.scores[unseen] = -np.inf
            if poison_staleness:
                self._stale_poisoned[unseen] = True
            self._poison_all = False
        elif poison_staleness and self._poison_pending:
            pending = np.array(self._poison_pending, dtype=np.int64)
            self._stale_poisoned[pending[~records.scored[pending]]] = True
        self._poison_pending.clear()

    # ------------------------------------------------------------------ updates
    def update(self, rollout: Rollout) -> None:
        """The reference's ``update_with_rollouts``, ``after_update`` and the weights it logs.

        Args:
            rollout: The rollout.

        Raises:
            ReferenceModeError: If the rollout leads to a state where the reference fails or
                gives NaN scores; the sampler and records are then left unchanged.
        """
        settings, records = self.settings, self.records
        tasks, rewards, dones, values, next_values, action_log_dist = rollout
        advantages, _ = gae(rewards, values, dones, next_values, settings.gamma, settings.gae_lambda)
        num_envs = tasks.shape[1]
        if len(self._previous_last_done) != num_envs:
            self._previous_last_done = np.zeros(num_envs, dtype=np.bool_)
        episodes = reference.episode_scores(
            settings.strategy,
            tasks,
            rewards,
            dones,
            values,
            next_values,
            advantages,
            action_log_dist,
            self._previous_last_done,
        )
        order, new = episodes.in_update_order()
        n = records.num_tasks
        with np.errstate(invalid="ignore"):  # a -inf score times (1 - alpha) = 0 is NaN, as in the reference
            updated, smoothed = smooth_scores(
                records.scores, np.ones(n, dtype=np.bool_), order, new, settings.alpha
            )
        if np.isnan(smoothed).any():
            task = int(updated[np.isnan(smoothed)][0])
            raise ReferenceModeError(
                f"mode='reference' with score_transform='max' and alpha=1: task {task} gets a NaN score, "
                "because the reference's 'max' transform had set the score of this then unseen task to "
                "-inf (through a numpy view) and (1 - alpha) * -inf is NaN; the reference fails at its "
                "next sample. Use alpha < 1 or mode='corrected'"
            )
        records.set_scores(updated, smoothed)
        if self._ranks is not None:
            self._ranks.update(records.scores, updated)
        self._score_weights = None
        self._previous_last_done = dones[-1].copy()
        self._poison()

    # -------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The previous rollout's last dones and the staleness flags of the ``max`` transform."""
        return {
            **super().state_dict(),
            "previous_last_done": self._previous_last_done.copy(),
            "stale_poisoned": self._stale_poisoned.copy(),
        }

    def load_state_dict(self, plr: dict[str, Any]) -> None:
        """Restores the entries saved by [`state_dict`][syllabus.curricula.plr.reference_sampler.ReferenceSampler.state_dict], after the records.

        Args:
            plr: PLR's ``state_dict()["plr"]``.
        """
        n = self.records.num_tasks
        self._previous_last_done = np.array(plr.get("previous_last_done", []), dtype=np.bool_)
        self._stale_poisoned = np.array(plr.get("stale_poisoned", np.zeros(n)), dtype=np.bool_)
        self._poison_all = True
        self._poison_pending = []
        self._ranks = self._new_ranks()
        self._score_weights = None
