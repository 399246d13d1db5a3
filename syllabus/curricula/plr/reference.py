"""Reference mode of Prioritized Level Replay: the behaviour of facebookresearch/level-replay.

The functions here reproduce the scores and replay weights of the reference implementation's
``LevelSampler`` fed by its ``RolloutStorage``, as its ``train.py`` drives them (one
``update_with_rollouts`` and one ``after_update`` per rollout, and the level weights logged after
every update). They are written from that behaviour; no code is taken from the reference. Where
the reference would fail (an exception in ``np.random.choice``) or produce NaN or negative
probabilities, they raise [`ReferenceModeError`][syllabus.core.errors.ReferenceModeError] instead. ``docs/plr.md`` lists every
difference with the default (corrected) mode.
"""

from __future__ import annotations

import math

import numpy as np

from syllabus.core.errors import ReferenceModeError
from syllabus.curricula.plr.scoring import split_segments, step_scores

REFERENCE_STRATEGIES = (
    "value_l1",
    "gae",
    "one_step_td_error",
    "policy_entropy",
    "least_confidence",
    "min_margin",
    "random",
)

# np.random.choice accepts probabilities whose sum is within this distance of 1.
CHOICE_ATOL = math.sqrt(np.finfo(np.float64).eps)
# The reference replays uniformly over all tasks when np.isclose(sum of its weights, 0).
ZERO_ATOL = 1e-8
# The reference's power transform adds this to scores when staleness is off.
_POWER_EPS = 1e-3


class EpisodeScores:
    """Scores of a rollout's episodes in the reference's order.

    ``finished_*`` are the episodes that ended in the rollout (env order, then time order);
    ``open_*`` the last, unfinished episode of each env (env order), which the reference commits
    at the end of the update unless its score is exactly 0.

    Args:
        finished_tasks: Task indices of the episodes that ended in the rollout.
        finished: Scores of those episodes, in the same order.
        open_tasks: Task index of each env's unfinished last episode, in env order.
        open_: Scores of those unfinished episodes, in the same order.
    """

    def __init__(
        self, finished_tasks: np.ndarray, finished: np.ndarray, open_tasks: np.ndarray, open_: np.ndarray
    ) -> None:
        self.finished_tasks = finished_tasks
        self.finished = finished
        self.open_tasks = open_tasks
        self.open = open_

    def in_update_order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tasks, scores)`` in the order the reference smooths them into its scores."""
        committed = self.open != 0.0
        return (
            np.concatenate([self.finished_tasks, self.open_tasks[committed]]),
            np.concatenate([self.finished, self.open[committed]]),
        )


def episode_scores(
    strategy: str,
    tasks: np.ndarray,
    rewards: np.ndarray,
    dones: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    advantages: np.ndarray,
    action_log_dist: np.ndarray | None,
    previous_last_done: np.ndarray,
) -> EpisodeScores:
    """Scores each episode segment of a rollout as the reference does.

    * A finished episode's score is the mean of its per-step scores over its ``L`` steps.
    * For ``value_l1`` and ``gae``, an unfinished episode's mean also includes the storage's
      final row, whose return is never computed (0): ``|0 - V(s_T)|`` resp. ``0 - V(s_T)``, a
      mean over ``L + 1`` values.
    * ``one_step_td_error`` averages ``|r_t + V(s_t) - V(s_{t+1})|`` over the ``L - 1`` pairs of
      consecutive steps of the episode (no discount, last step skipped).
    * The policy strategies average over the ``L`` steps.
    * The reference reads an env's episode ends from the ``T + 1`` rows of its masks (row 0 is
      the previous rollout's last done) and keeps only the first ``T`` of them: when the previous
      rollout ended with a done and every step of this one is a done, the last step is treated
      as an unfinished episode.

    Args:
        strategy: A reference strategy other than ``random``.
        tasks: Encoded tasks, ``(num_steps, num_envs)``.
        rewards: Rewards, ``(num_steps, num_envs)``.
        dones: Episode ends, ``(num_steps, num_envs)`` booleans.
        values: ``V(s_t)``, ``(num_steps, num_envs)``.
        next_values: ``V(s_T)``, ``(num_envs,)``.
        advantages: GAE of the rollout, ``(num_steps, num_envs)``.
        action_log_dist: Normalized action log-probabilities (policy strategies).
        previous_last_done: Whether each env's previous rollout ended with a done.

    Raises:
        ReferenceModeError: If an episode's score is NaN in the reference (a one-step episode
            under ``one_step_td_error``, a zero-probability action under ``policy_entropy``).
    """
    segments = split_segments(tasks, dones)
    finished = segments.finished.copy()
    finished[segments.last[previous_last_done & dones.all(axis=0)]] = False
    counts = segments.lengths.astype(np.float64)
    if strategy in ("value_l1", "gae"):
        per_step = np.abs(advantages) if strategy == "value_l1" else advantages
        sums = segments.sums(per_step)
        tail = -next_values[segments.env[~finished]]
        sums[~finished] += np.abs(tail) if strategy == "value_l1" else tail
        counts[~finished] += 1
    elif strategy == "one_step_td_error":
        following = np.concatenate([values[1:], np.zeros((1, values.shape[1]))])
        pairs = ~dones
        pairs[-1] = False
        sums = segments.sums(np.where(pairs, np.abs(rewards + values - following), 0.0))
        counts -= 1
        if (counts == 0).any():
            i = int(np.flatnonzero(counts == 0)[0])
            raise ReferenceModeError(
                f"mode='reference' with strategy='one_step_td_error': the episode of task "
                f"{segments.task[i]} on env {segments.env[i]} has a single step in this rollout, which "
                "the reference scores as NaN (a mean over no TD errors); use mode='corrected', whose "
                "one_step_td_error scores every step"
            )
    else:
        if action_log_dist is None:
            raise ValueError(f"strategy {strategy!r} needs action_log_dist")
        if strategy == "policy_entropy" and np.isneginf(action_log_dist).any():
            raise ReferenceModeError(
                "mode='reference' with strategy='policy_entropy': an action has probability 0, which "
                "the reference turns into a NaN entropy (0 * log 0); use mode='corrected'"
            )
        sums = segments.sums(step_scores(strategy, advantages, advantages, action_log_dist))
    scores = sums / counts
    return EpisodeScores(
        segments.task[finished], scores[finished], segments.task[~finished], scores[~finished]
    )


def weights(
    name: str,
    values: np.ndarray,
    seen: np.ndarray,
    temperature: float,
    eps: float,
    staleness_coef: float,
) -> np.ndarray:
    """One component of the reference's replay weights over all tasks.

    The transform sees every task, unseen ones at their placeholder value (score 0; staleness
    counted like any other task); the result is then zeroed on unseen tasks and normalized when
    its sum is positive (left as is otherwise, so a component may have no mass, or hold NaN or
    negative weights, as in the reference).

    * ``rank``: ``1 / rank ** (1 / temperature)``, rank 1 for the largest value; among equal
      values the higher task index ranks first (a stable ascending sort, reversed).
    * ``power``: ``(value + e) ** (1 / temperature)`` with ``e = 1e-3`` if ``staleness_coef``
      is 0, else ``e = 0``.
    * ``softmax``: ``exp(value / temperature)``, not shifted (it overflows to NaN weights).
    * ``eps_greedy``: ``1 - eps`` on the first largest value over *all* tasks plus
      ``eps / num_tasks`` on each.
    * ``constant``: uniform.
    * ``max``: the largest value among seen tasks; the reference breaks ties (``np.isclose``)
      at random, so the weight is split equally among them (the distribution of its draw).

    Args:
        name: The transform's name (one of ``TRANSFORMS``).
        values: Scores or staleness of every task.
        seen: Which tasks have been scored; unseen tasks get weight 0.
        temperature: Temperature of the transform.
        eps: Exploration mass of the ``eps_greedy`` transform.
        staleness_coef: Weight of staleness against scores in the mixture.

    Raises:
        ReferenceModeError: For ``max`` when the tie is at ``-inf`` between seen and unseen
            tasks, where the reference's random draw may leave the component without mass.
    """
    n = len(values)
    with np.errstate(all="ignore"):
        if name == "rank":
            ranks = np.empty(n)
            ranks[np.argsort(values, kind="stable")[::-1]] = np.arange(1, n + 1)
            raw = 1.0 / ranks ** (1.0 / temperature)
        elif name == "power":
            raw = (values + (0.0 if staleness_coef > 0 else _POWER_EPS)) ** (1.0 / temperature)
        elif name == "softmax":
            raw = np.exp(values / temperature)
        elif name == "eps_greedy":
            raw = np.full(n, eps / n)
            raw[np.argmax(values)] += 1.0 - eps
        elif name == "constant":
            raw = np.ones(n)
        elif name == "max":
            candidates = np.where(seen, values, -np.inf)
            ties = np.isclose(candidates, candidates.max())
            if ties[seen].any() and ties[~seen].any():
                raise ReferenceModeError(
                    "mode='reference' with the 'max' transform: every seen task's value is -inf, so "
                    "the reference's random tie-break may pick an unseen task and leave no mass; use "
                    "mode='corrected'"
                )
            raw = ties / ties.sum()
        else:
            raise ValueError(f"unknown transform {name!r}")
        masked = raw * seen
        total = masked.sum()
        return masked / total if total > 0 else masked


class ReferenceRanks:
    """The reference's ``rank`` weights over all tasks, kept up to date in O(n) per update.

    [`weights`][syllabus.curricula.plr.reference.weights] ranks every task with a full sort
    (O(n log n): about 0.2 s at a million tasks). Only scored tasks get weight, and every unscored
    task holds the placeholder score 0, so the scored tasks are kept in rank order (descending
    score, higher index first among equal scores, as the reference's reversed stable sort), with
    their scores in that order (so no O(n) random gather is needed), and the unscored ones are
    counted in where they would stand. The weights are equal, bit for bit, to
    ``weights("rank", ...)``.

    Args:
        num_tasks: Number of task indices.
        temperature: Temperature of the rank transform.
        scores: The current scores (with ``scored``, to start from a saved state).
        scored: Which tasks are scored.
    """

    def __init__(
        self,
        num_tasks: int,
        temperature: float,
        scores: np.ndarray | None = None,
        scored: np.ndarray | None = None,
    ) -> None:
        self._n = num_tasks
        self._temperature = temperature
        self._rank_weights: np.ndarray | None = None  # 1 / rank ** (1 / temperature), made when first needed
        self.order = np.zeros(0, dtype=np.int64)
        self._values = np.zeros(0)  # scores[order]
        if scores is not None and scored is not None and scored.any():
            self.update(scores, np.flatnonzero(scored))

    def update(self, scores: np.ndarray, changed: np.ndarray) -> None:
        """Moves the tasks ``changed`` (distinct indices, newly scored or re-scored) to their rank.

        Args:
            scores: The score of every task; since the last update only the scores of ``changed``
                (and of unscored tasks) may have changed.
            changed: The tasks newly scored or re-scored.
        """
        moved = np.zeros(self._n, dtype=np.bool_)
        moved[changed] = True
        keep = ~moved[self.order]
        kept, kept_values = self.order[keep], self._values[keep]
        changed = np.asarray(changed, dtype=np.int64)[np.lexsort((-changed, -scores[changed]))]
        kept_keys = -kept_values
        starts = np.searchsorted(kept_keys, -scores[changed], side="left")
        ends = np.searchsorted(kept_keys, -scores[changed], side="right")
        places = starts + np.array(
            [np.count_nonzero(kept[a:b] > c) for a, b, c in zip(starts, ends, changed.tolist(), strict=True)],
            dtype=np.int64,
        )
        self.order = np.insert(kept, places, changed)
        self._values = np.insert(kept_values, places, scores[changed])

    def weights(self, scores: np.ndarray, scored: np.ndarray) -> np.ndarray:
        """``weights("rank", scores, scored, temperature, ...)``, computed from the kept order.

        Args:
            scores: The score of every task, as at the last update (for unscored tasks, any).
            scored: Which tasks are scored.
        """
        values = self._values
        if np.isnan(values).any():  # NaN sorts first in the reference's order: no shortcut
            return weights("rank", scores, scored, self._temperature, 0.0, 0.0)
        if self._rank_weights is None:
            with np.errstate(all="ignore"):  # the reference's expression, element for element
                self._rank_weights = 1.0 / np.arange(1, self._n + 1, dtype=np.float64) ** (
                    1.0 / self._temperature
                )
        ranks = np.arange(len(self.order))  # 0-based
        num_unscored = self._n - len(self.order)
        ranks[values < 0] += num_unscored
        zero = values == 0
        if zero.any():  # unscored tasks of higher index rank before a scored task of score 0
            unscored_up_to = np.cumsum(~scored)
            ranks[zero] += num_unscored - unscored_up_to[self.order[zero]]
        masked = np.zeros(self._n)
        masked[self.order] = self._rank_weights[ranks]
        total = masked.sum()
        return masked / total if total > 0 else masked


def replay_distribution(
    score_weights: np.ndarray,
    staleness_weights: np.ndarray | None,
    staleness_coef: float,
    names: tuple[str, str],
) -> tuple[np.ndarray, np.ndarray]:
    """The reference's replay weights and the distribution its sampler draws from.

    Args:
        score_weights: The score component (see `weights`).
        staleness_weights: The staleness component (``None`` when ``staleness_coef`` is 0).
        staleness_coef: Weight of the staleness component.
        names: ``(score_transform, staleness_transform)`` for error messages.

    Returns:
        ``(sample_weights, distribution)``: the mixture as the reference's ``sample_weights()``
        returns it, and the distribution of a replay draw (uniform over all tasks when the
        mixture sums to 0 within 1e-8, as the reference's sampler does).

    Raises:
        ReferenceModeError: If the mixture holds NaN, infinite or negative weights, or sums to
            neither 0 nor 1 (a component without mass), where the reference's ``np.random.choice``
            raises.
    """
    mixture = score_weights
    if staleness_weights is not None:
        mixture = (1.0 - staleness_coef) * score_weights + staleness_coef * staleness_weights
    if not np.isfinite(mixture).all() or (mixture < 0).any():
        raise ReferenceModeError(
            f"mode='reference': the replay weights hold NaN, infinite or negative values (from "
            f"score_transform={names[0]!r} or staleness_transform={names[1]!r}: 'power' with negative "
            "scores and 'softmax' overflow give them in the reference, whose sampler then fails); use "
            "mode='corrected', or a strategy and temperature that keep the weights finite and nonnegative"
        )
    total = float(mixture.sum())
    if abs(total) <= ZERO_ATOL:
        return mixture, np.full(len(mixture), 1.0 / len(mixture))
    if abs(total - 1.0) > CHOICE_ATOL:
        raise ReferenceModeError(
            f"mode='reference': the replay weights sum to {total:.6g}, not 1: the "
            f"{'score' if score_weights.sum() <= 0 else 'staleness'} distribution has no mass while "
            "the other has, and the reference's sampler fails on such weights; use mode='corrected', "
            "which gives the missing share to the other distribution"
        )
    return mixture, mixture / total
