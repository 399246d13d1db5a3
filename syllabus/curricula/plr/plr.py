"""Prioritized Level Replay (Jiang, Grefenstette, Rocktäschel 2021) and Robust PLR (Jiang et al. 2021)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from syllabus.core.curriculum import Curriculum, Task, check_sample_count
from syllabus.curricula.plr import reference
from syllabus.curricula.plr.reference import REFERENCE_STRATEGIES, ReferenceModeError, ReferenceRanks
from syllabus.curricula.plr.sampling import (
    TRANSFORMS,
    CdfSampler,
    IndexPool,
    RankedTasks,
    StalenessTree,
    transform,
)
from syllabus.curricula.plr.scoring import (
    POLICY_STRATEGIES,
    STRATEGIES,
    PartialEpisodes,
    gae,
    smooth_scores,
    split_segments,
    step_scores,
)
from syllabus.task_space import TaskSpace

SCHEDULES = ("proportionate", "fixed")
MODES = ("corrected", "reference")


class PrioritizedLevelReplay(Curriculum):
    """Replays tasks with high learning potential, scored from the learner's rollouts.

    The learner calls [`custom_update`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.custom_update] after each rollout. Each episode segment gets a score
    (see ``strategy``), and tasks are replayed from the mixture
    ``(1 - staleness_coef) * P_S + staleness_coef * P_C`` of a score distribution and a staleness
    distribution, or a new (unseen) task is drawn uniformly, as decided by ``replay_schedule``.

    Two modes: ``mode="corrected"`` (the default) is described below; ``mode="reference"``
    reproduces the reference implementation (facebookresearch/level-replay, its ``LevelSampler``
    and ``RolloutStorage`` as its ``train.py`` drives them) to float64 round-off: scores,
    [`sample_weights`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.sample_weights], the replay decision and the next-sample distribution. Reference mode
    raises [`ReferenceModeError`][syllabus.curricula.plr.reference.ReferenceModeError] (a ``ValueError``)
    where the reference fails or yields NaN or negative probabilities. The mode is a named
    choice rather than a flag so that configs and logs say which behaviour a run used. The PLR
    docs page lists every difference between the modes and why the corrected mode differs.

    Rules of the corrected mode:

    * A task is *seen* once it is sampled or scored. Seen tasks take part in ``P_C`` (staleness
      ``c - C_i``: ``c`` counts all samples, ``C_i`` is ``c`` when task ``i`` was last sampled, 0 if
      never); only *scored* tasks take part in ``P_S``, so a sampled task waits for its first score
      before its score matters. When one component has no mass its share goes to the other; with
      neither, replay is uniform over seen tasks.
    * ``dones[t]`` ends the episode after step ``t`` with a bootstrap value of 0. For a time-limit
      truncation either pass ``done`` (treated as termination) or, like Stable-Baselines3, add
      ``gamma * V(final_obs)`` to the last reward.
    * At the end of every [`custom_update`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.custom_update], the score of a task is updated with each of its
      segments in env order then time order: a finished episode gives its mean score over the
      whole episode (steps of earlier rollouts included); an episode still running gives its mean
      so far, and its running sum and step count carry over to the env's next rollout. With the
      default ``alpha=1`` the task's score is therefore always its latest (partial or whole)
      episode score; with ``alpha < 1`` a long episode is smoothed in once per rollout it spans,
      and a task's first score is taken as is.

    Args:
        task_space: An enumerable task space.
        strategy: Segment score: ``value_l1`` (mean ``|GAE|``), ``positive_value_loss`` (mean
            ``max(GAE, 0)``), ``gae`` (mean GAE), ``one_step_td_error`` (mean ``|r + gamma V' - V|``),
            ``max_mc`` (mean of the task's highest lambda-return seen minus ``V``),
            ``policy_entropy`` (normalized to [0, 1]), ``least_confidence`` (1 - top probability),
            ``min_margin`` (1 - (top1 - top2) probability) or ``random`` (uniform sampling from all
            tasks; updates are checked and ignored). Reference mode has all but
            ``positive_value_loss`` and ``max_mc``.
        score_transform: ``rank``, ``power``, ``softmax``, ``eps_greedy``, ``constant`` or ``max``
            (see `transform`; under ``rank``, among equal
            scores the task that reached its score first ranks higher).
        temperature: Temperature of ``score_transform``.
        staleness_coef: Weight of the staleness distribution in the replay mixture.
        staleness_transform: Transform of staleness values; the default ``power`` with
            ``staleness_temperature=1`` samples in O(log n), the others in O(n).
        staleness_temperature: Temperature of ``staleness_transform``.
        alpha: Score smoothing, ``score = (1 - alpha) * old + alpha * new``.
        replay_schedule: No replay until the seen fraction reaches ``rho``; then ``proportionate``
            replays with probability equal to the seen fraction and ``fixed`` with probability
            ``replay_prob``. Both always replay once every task is seen.
        rho: Minimum seen fraction before replays (both schedules).
        replay_prob: Replay probability of the ``fixed`` schedule, the reference's ``1 - nu``
            (default 0.5, as the reference's ``nu=0.5``).
        gamma: Discount factor of the scores' GAE.
        gae_lambda: Lambda of the scores' GAE.
        robust: Robust PLR: the learner trains only on replayed tasks (see [`replay_mask`][syllabus.curricula.plr.plr.replay_mask]).
        eps: Exploration weight of the ``eps_greedy`` transform.
        mode: ``corrected`` (default) or ``reference`` (see above).
        random_seed: Seed of the curriculum's random generator.
        record_stats: Keep per-task episode statistics.
    """

    def __init__(
        self,
        task_space: TaskSpace,
        *,
        strategy: str = "value_l1",
        score_transform: str = "rank",
        temperature: float = 0.1,
        staleness_coef: float = 0.1,
        staleness_transform: str = "power",
        staleness_temperature: float = 1.0,
        alpha: float = 1.0,
        replay_schedule: str = "proportionate",
        rho: float = 1.0,
        replay_prob: float = 0.5,
        gamma: float = 0.999,
        gae_lambda: float = 0.95,
        robust: bool = False,
        eps: float = 0.05,
        mode: str = "corrected",
        random_seed: int | None = None,
        record_stats: bool = False,
    ) -> None:
        super().__init__(task_space, random_seed=random_seed, record_stats=record_stats)
        num_tasks = task_space.num_tasks
        if not task_space.is_enumerable or num_tasks is None:
            raise ValueError(f"PrioritizedLevelReplay needs an enumerable task space, got {task_space!r}")
        _check_choice("strategy", strategy, STRATEGIES)
        _check_choice("score_transform", score_transform, TRANSFORMS)
        _check_choice("staleness_transform", staleness_transform, TRANSFORMS)
        _check_choice("replay_schedule", replay_schedule, SCHEDULES)
        _check_choice("mode", mode, MODES)
        if mode == "reference" and strategy not in REFERENCE_STRATEGIES:
            raise ValueError(
                f"strategy={strategy!r} does not exist in the reference implementation; with "
                f"mode='reference' choose one of {', '.join(REFERENCE_STRATEGIES)}"
            )
        _check_range("temperature", temperature, 0.0, math.inf, low_open=True)
        _check_range("staleness_temperature", staleness_temperature, 0.0, math.inf, low_open=True)
        _check_range("alpha", alpha, 0.0, 1.0, low_open=True)
        for name, value in (
            ("staleness_coef", staleness_coef),
            ("rho", rho),
            ("replay_prob", replay_prob),
            ("gamma", gamma),
            ("gae_lambda", gae_lambda),
            ("eps", eps),
        ):
            _check_range(name, value, 0.0, 1.0)
        self.strategy = strategy
        self.score_transform = score_transform
        self.temperature = float(temperature)
        self.staleness_coef = float(staleness_coef)
        self.staleness_transform = staleness_transform
        self.staleness_temperature = float(staleness_temperature)
        self.alpha = float(alpha)
        self.replay_schedule = replay_schedule
        self.rho = float(rho)
        self.replay_prob = float(replay_prob)
        self.gamma = float(gamma)
        self.gae_lambda = float(gae_lambda)
        self.robust = bool(robust)
        self.eps = float(eps)
        self.mode = mode
        self._reference = mode == "reference"
        self._n = num_tasks
        self._linear_staleness = staleness_transform == "power" and self.staleness_temperature == 1.0
        n = self._n
        self._scores = np.zeros(n)
        self._scored = np.zeros(n, dtype=np.bool_)
        self._max_returns = np.full(n, -np.inf)
        self._last_sampled = np.zeros(n, dtype=np.int64)
        self._count = 0
        self._seen = np.zeros(n, dtype=np.bool_)
        self._seen_list: list[int] = []
        self._unseen = IndexPool(list(range(n)), n)
        self._staleness = StalenessTree(self._seen, self._last_sampled)
        self._partial = PartialEpisodes()
        self._ranked = RankedTasks(n, self.temperature)
        self._score_sampler = CdfSampler(np.zeros(n))
        # Reference mode: each env's last done of the previous rollout (the storage's first mask
        # row), tasks whose staleness the reference's 'max' transform has set to -inf (and the
        # tasks sampled since, whose flag may need setting again), the rank order of the scored
        # tasks, and the score component of the replay weights (computed when needed).
        self._previous_last_done = np.zeros(0, dtype=np.bool_)
        self._stale_poisoned = np.zeros(n, dtype=np.bool_)
        self._poison_all = True
        self._poison_pending: list[int] = []
        self._reference_ranks = (
            ReferenceRanks(n, self.temperature) if self._reference and score_transform == "rank" else None
        )
        self._reference_scores: np.ndarray | None = None
        self._reference_score_sampler: CdfSampler | None = None

    # ----------------------------------------------------------------- sampling
    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks, one at a time (each sample updates staleness).

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        return [self.task_space.decode(self._sample_index()[0]) for _ in range(k)]

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` tasks, each with ``{"replay": bool, "train": bool}``.

        ``replay`` tells whether the task was replayed from the seen tasks rather than drawn new
        (for ``strategy="random"``: whether it was seen before). ``train`` is ``replay`` for a
        robust PLR and always true otherwise; [`replay_mask`][syllabus.curricula.plr.plr.replay_mask] reads it.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        out: list[tuple[Task, dict[str, Any] | None]] = []
        for _ in range(k):
            index, replay = self._sample_index()
            out.append(
                (self.task_space.decode(index), {"replay": replay, "train": replay or not self.robust})
            )
        return out

    def _sample_index(self) -> tuple[int, bool]:
        rng = self.rng
        if self.strategy == "random":
            index = min(int(rng.random() * self._n), self._n - 1)
            replay = index not in self._unseen
            if not replay:
                self._mark_seen(index)
        else:
            p_replay = self._replay_probability()
            draw = self._reference_replay_draw() if self._reference and p_replay > 0 else None
            replay = p_replay == 1.0 or (p_replay > 0.0 and rng.random() < p_replay)
            if not replay:
                index = self._unseen.pick(rng.random())
            elif draw is not None:
                self._reference_poison()
                index = draw()
            else:
                index = self._sample_replay()
            if not self._reference and index in self._unseen:
                self._mark_seen(index)
        self._count += 1
        if self._seen[index]:
            self._staleness.shift(index, self._count - int(self._last_sampled[index]))
        self._last_sampled[index] = self._count
        if self._stale_poisoned[index]:
            self._stale_poisoned[index] = False
            self._poison_pending.append(index)
        return index, replay

    def _replay_probability(self) -> float:
        num_unseen = len(self._unseen)
        if num_unseen == 0:
            return 1.0
        seen_fraction = (self._n - num_unseen) / self._n
        if seen_fraction < self.rho or (num_unseen == self._n and not self._reference):
            return 0.0
        return self.replay_prob if self.replay_schedule == "fixed" else seen_fraction

    def _sample_replay(self) -> int:
        rng = self.rng
        if self._linear_staleness:
            staleness_mass = self._staleness.total(self._count)
        else:
            seen, staleness_weights = self._staleness_weights()
            staleness_mass = staleness_weights.sum()
        scores = self._score_sampler
        if scores.total > 0 and (staleness_mass <= 0 or rng.random() >= self.staleness_coef):
            return scores.sample(rng.random())
        if staleness_mass > 0:
            if self._linear_staleness:
                return self._staleness.sample(rng.random(), self._count)
            return int(seen[CdfSampler(staleness_weights).sample(rng.random())])
        return self._seen_list[min(int(rng.random() * len(self._seen_list)), len(self._seen_list) - 1)]

    def _staleness_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Seen task indices (ascending) and their transformed staleness."""
        seen = np.flatnonzero(self._seen)
        staleness = (self._count - self._last_sampled[seen]).astype(np.float64)
        return seen, transform(self.staleness_transform, staleness, self.staleness_temperature, self.eps)

    def _mark_seen(self, index: int) -> None:
        self._unseen.remove(index)
        self._seen[index] = True
        self._seen_list.append(index)
        self._staleness.insert(index, int(self._last_sampled[index]))

    @property
    def scores(self) -> np.ndarray:
        """The current score of each encoded task (NaN for tasks not scored yet)."""
        return np.where(self._scored, self._scores, np.nan)

    def sample_weights(self) -> np.ndarray:
        """The replay distribution over encoded tasks (zeros for unseen tasks; all zeros before any).

        For ``strategy="random"``, the uniform distribution. In reference mode, the weights the
        reference's ``sample_weights()`` returns; when they are all zero, a replay is uniform over
        all tasks (see [`task_distribution`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.task_distribution]).

        Raises:
            ReferenceModeError: In reference mode, if the reference could not sample from the weights.
        """
        if self.strategy == "random":
            return np.full(self._n, 1.0 / self._n)
        if self._reference:
            return self._reference_distribution()[0]
        score_probs = _normalized(self._score_sampler.weights)
        seen, staleness_weights = self._staleness_weights()
        all_staleness = np.zeros(self._n)
        all_staleness[seen] = staleness_weights
        staleness_probs = _normalized(all_staleness)
        if score_probs is not None and staleness_probs is not None:
            return (1.0 - self.staleness_coef) * score_probs + self.staleness_coef * staleness_probs
        if score_probs is not None:
            return score_probs
        if staleness_probs is not None:
            return staleness_probs
        uniform = np.zeros(self._n)
        uniform[seen] = 1.0 / max(len(seen), 1)
        return uniform

    def task_distribution(self) -> np.ndarray:
        """Probability of each encoded task at the next sample, new-task draws included."""
        if self.strategy == "random":
            return self.sample_weights()
        p_replay = self._replay_probability()
        dist = np.zeros(self._n)
        if p_replay > 0:
            replays = self._reference_distribution()[1] if self._reference else self.sample_weights()
            dist += p_replay * replays
        if p_replay < 1.0:
            dist[self._unseen.items] += (1.0 - p_replay) / len(self._unseen)
        return dist

    def _reference_replay_draw(self) -> Callable[[], int]:
        """Reference mode: a function that draws one replay, after checking the reference could.

        With the default staleness (``power``, temperature 1) or none, and valid score weights,
        it draws a mixture component, then a task from it in O(log n), as `_sample_replay`
        does; otherwise it samples the full distribution of `_reference_distribution`.
        """
        rng = self.rng
        self._reference_score_weights()
        scores = self._reference_score_sampler
        if scores is not None and (self.staleness_coef == 0 or self._linear_staleness):
            score_mass = (1.0 - self.staleness_coef) * scores.total
            staleness_mass = self.staleness_coef * (self._staleness.total(self._count) > 0)
            total = score_mass + staleness_mass
            if abs(total) <= reference.ZERO_ATOL:
                return lambda: min(int(rng.random() * self._n), self._n - 1)
            if abs(total - 1.0) <= reference.CHOICE_ATOL:
                return lambda: (
                    scores.sample(rng.random())
                    if rng.random() * total < score_mass
                    else self._staleness.sample(rng.random(), self._count)
                )
        distribution = CdfSampler(self._reference_distribution()[1])
        return lambda: distribution.sample(rng.random())

    def _reference_score_weights(self) -> np.ndarray:
        """Reference mode: the score component, and a sampler of it if its weights are valid."""
        if self._reference_scores is None:
            if self._reference_ranks is not None:
                self._reference_scores = self._reference_ranks.weights(self._scores, self._scored)
            else:
                self._reference_scores = reference.weights(
                    self.score_transform,
                    self._scores,
                    self._scored,
                    self.temperature,
                    self.eps,
                    self.staleness_coef,
                )
            valid = np.isfinite(self._reference_scores).all() and (self._reference_scores >= 0).all()
            self._reference_score_sampler = CdfSampler(self._reference_scores) if valid else None
        return self._reference_scores

    def _reference_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Reference mode: ``(sample_weights, replay distribution)`` (see `reference.replay_distribution`)."""
        staleness = None
        if self.staleness_coef > 0:
            values = (self._count - self._last_sampled).astype(np.float64)
            values[self._stale_poisoned] = -np.inf
            staleness = reference.weights(
                self.staleness_transform,
                values,
                self._scored,
                self.staleness_temperature,
                self.eps,
                self.staleness_coef,
            )
        return reference.replay_distribution(
            self._reference_score_weights(),
            staleness,
            self.staleness_coef,
            (self.score_transform, self.staleness_transform),
        )

    def _reference_poison(self) -> None:
        """Reference mode: what the reference's ``sample_weights()`` does to unseen tasks' values.

        Its ``max`` transform writes ``-inf`` into the scores (and staleness) of unseen tasks
        through a numpy view. ``train.py`` calls it on every replay draw and after every update.
        Tasks only ever become scored, and only a sample clears a task's staleness flag, so after
        the first pass only the tasks sampled since need looking at: a replay draw stays O(log n).
        """
        poison_scores = self.score_transform == "max"
        poison_staleness = self.staleness_transform == "max" and self.staleness_coef > 0
        if not (poison_scores or poison_staleness):
            return
        if self._poison_all:
            unseen = ~self._scored
            if poison_scores:
                self._scores[unseen] = -np.inf
            if poison_staleness:
                self._stale_poisoned[unseen] = True
            self._poison_all = False
        elif poison_staleness and self._poison_pending:
            pending = np.array(self._poison_pending, dtype=np.int64)
            self._stale_poisoned[pending[~self._scored[pending]]] = True
        self._poison_pending.clear()

    # ------------------------------------------------------------------ updates
    def custom_update(
        self,
        tasks: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        values: np.ndarray,
        next_values: np.ndarray,
        *,
        action_log_dist: np.ndarray | None = None,
    ) -> None:
        """Scores the episodes of one rollout.

        Args:
            tasks: Encoded task of each step, ``(num_steps, num_envs)`` integers (or floats with
                integer values, as CleanRL-style loops store them); constant within an episode.
            rewards: Rewards, ``(num_steps, num_envs)``, finite.
            dones: Whether the episode ended after each step, ``(num_steps, num_envs)`` booleans
                (or 0/1 numbers).
            values: Value predictions ``V(s_t)``, ``(num_steps, num_envs)``, finite.
            next_values: ``V(s_T)`` after the last step, ``(num_envs,)``, finite.
            action_log_dist: Action log-probabilities or logits ``(num_steps, num_envs,
                num_actions)``, required by the policy strategies; each row is normalized with a
                log-softmax (``-inf`` is an action of probability 0; NaN and ``+inf`` are rejected).

        Raises:
            ValueError: If an array has the wrong shape or non-finite values, a task is not a
                valid encoding, a done is not boolean, a task changes within an episode, or
                ``action_log_dist`` is missing when needed.
            ReferenceModeError: In reference mode, if the rollout leads to a state where the
                reference fails or gives NaN or negative probabilities; the curriculum is then
                left unchanged.
        """
        tasks, rewards, dones, values, next_values, action_log_dist = self._check_rollout(
            tasks, rewards, dones, values, next_values, action_log_dist
        )
        if self.strategy == "random":
            return
        advantages, td_errors = gae(rewards, values, dones, next_values, self.gamma, self.gae_lambda)
        if self._reference:
            self._reference_update(tasks, rewards, dones, values, next_values, advantages, action_log_dist)
            return
        segments = split_segments(tasks, dones)
        if self.strategy == "max_mc":
            np.maximum.at(self._max_returns, segments.task, segments.maxima(advantages + values))
            per_step = self._max_returns[tasks] - values
        else:
            per_step = step_scores(self.strategy, advantages, td_errors, action_log_dist)
        sums = segments.sums(per_step)
        counts = segments.lengths.copy()
        self._partial.merge(segments, sums, counts)
        updated, scores = smooth_scores(self._scores, self._scored, segments.task, sums / counts, self.alpha)
        self._scores[updated] = scores
        self._scored[updated] = True
        for index in updated[~self._seen[updated]].tolist():
            self._mark_seen(index)
        if self.score_transform == "rank":
            self._ranked.update(self._scores, updated)
        self._refresh_score_sampler()

    def _reference_update(
        self,
        tasks: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        values: np.ndarray,
        next_values: np.ndarray,
        advantages: np.ndarray,
        action_log_dist: np.ndarray | None,
    ) -> None:
        """Reference mode: ``update_with_rollouts``, ``after_update`` and the logged weights."""
        num_envs = tasks.shape[1]
        if len(self._previous_last_done) != num_envs:
            self._previous_last_done = np.zeros(num_envs, dtype=np.bool_)
        episodes = reference.episode_scores(
            self.strategy,
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
        with np.errstate(invalid="ignore"):  # a -inf score times (1 - alpha) = 0 is NaN, as in the reference
            updated, smoothed = smooth_scores(
                self._scores, np.ones(self._n, dtype=np.bool_), order, new, self.alpha
            )
        if np.isnan(smoothed).any():
            task = int(updated[np.isnan(smoothed)][0])
            raise ReferenceModeError(
                f"mode='reference' with score_transform='max' and alpha=1: task {task} gets a NaN score, "
                "because the reference's 'max' transform had set the score of this then unseen task to "
                "-inf (through a numpy view) and (1 - alpha) * -inf is NaN; the reference fails at its "
                "next sample. Use alpha < 1 or mode='corrected'"
            )
        self._scores[updated] = smoothed
        self._scored[updated] = True
        if self._reference_ranks is not None:
            self._reference_ranks.update(self._scores, updated)
        self._reference_scores = None
        for index in updated[~self._seen[updated]].tolist():
            self._mark_seen(index)
        self._previous_last_done = dones[-1].copy()
        self._reference_poison()

    def _check_rollout(
        self,
        tasks: Any,
        rewards: Any,
        dones: Any,
        values: Any,
        next_values: Any,
        action_log_dist: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        tasks = self._check_tasks(tasks)
        arrays = {"rewards": rewards, "dones": dones, "values": values}
        for name, array in arrays.items():
            arrays[name] = _dones(array) if name == "dones" else _numbers(name, array)
            if arrays[name].shape != tasks.shape:
                raise ValueError(
                    f"{name} must have the shape of tasks {tasks.shape}, got {arrays[name].shape}"
                )
            if name != "dones":
                _check_finite(name, arrays[name])
        next_values = _numbers("next_values", next_values)
        if next_values.shape != tasks.shape[1:]:
            raise ValueError(
                f"next_values must have shape {tasks.shape[1:]} (num_envs,), got {next_values.shape}"
            )
        _check_finite("next_values", next_values)
        dones = arrays["dones"]
        switched = (tasks[1:] != tasks[:-1]) & ~dones[:-1]
        if switched.any():
            t, env = np.argwhere(switched)[0]
            raise ValueError(
                f"the task of env {env} changed after step {t} without a done; dones must mark episode ends"
            )
        action_log_dist = self._check_action_log_dist(action_log_dist, tasks.shape)
        return tasks, arrays["rewards"], dones, arrays["values"], next_values, action_log_dist

    def _check_tasks(self, tasks: Any) -> np.ndarray:
        """The rollout's tasks as an int64 ``(num_steps, num_envs)`` array of encodings of this space."""
        tasks = np.asarray(tasks)
        if tasks.ndim != 2 or tasks.size == 0:
            raise ValueError(
                f"tasks must be a non-empty (num_steps, num_envs) array, got shape {tasks.shape}"
            )
        if np.issubdtype(tasks.dtype, np.floating):
            _check_finite("tasks", tasks)
            fractional = tasks != np.round(tasks)
            if fractional.any():
                raise ValueError(
                    f"tasks must be encoded tasks (integers or integer-valued floats), got "
                    f"{tasks[fractional][0].item()!r} {_where(fractional)}"
                )
        elif not np.issubdtype(tasks.dtype, np.integer):
            raise ValueError(f"tasks must be encoded tasks (integers), got dtype {tasks.dtype}")
        if tasks.min() < 0 or tasks.max() >= self._n:
            raise ValueError(
                f"tasks must be encodings in 0..{self._n - 1}, got values in {tasks.min()}..{tasks.max()}"
            )
        return tasks.astype(np.int64)

    def _check_action_log_dist(self, action_log_dist: Any, shape: tuple[int, ...]) -> np.ndarray | None:
        """The policy strategies' action log-probabilities, normalized, of shape ``shape + (num_actions,)``
        (the tasks' ``shape``); other strategies do not use them."""
        if self.strategy not in POLICY_STRATEGIES:
            return action_log_dist
        if action_log_dist is None:
            raise ValueError(f"strategy {self.strategy!r} needs action_log_dist")
        action_log_dist = _numbers("action_log_dist", action_log_dist)
        if action_log_dist.shape[:2] != shape or action_log_dist.ndim != 3 or action_log_dist.shape[2] < 2:
            raise ValueError(
                f"action_log_dist must have shape {shape} + (num_actions >= 2,), got {action_log_dist.shape}"
            )
        return _log_softmax(action_log_dist)

    def _refresh_score_sampler(self) -> None:
        if self._reference:
            self._reference_scores = None
            return
        if self.score_transform == "rank":
            weights = self._ranked.weights()
        else:
            scored = np.flatnonzero(self._scored)
            weights = np.zeros(self._n)
            weights[scored] = transform(
                self.score_transform, self._scores[scored], self.temperature, self.eps
            )
        self._score_sampler = CdfSampler(weights)

    # -------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Scores, staleness counters, seen tasks, carried partial episodes and the random generator."""
        state = super().state_dict()
        state["plr"] = {
            "num_tasks": self._n,
            "mode": self.mode,
            "scores": self._scores.copy(),
            "scored": self._scored.copy(),
            "rank_order": self._ranked.order.copy(),
            "max_returns": self._max_returns.copy(),
            "last_sampled": self._last_sampled.copy(),
            "count": self._count,
            "seen": list(self._seen_list),
            "unseen": list(self._unseen.items),
            "partial": self._partial.state_dict(),
            "previous_last_done": self._previous_last_done.copy(),
            "stale_poisoned": self._stale_poisoned.copy(),
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state from [`state_dict`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.state_dict]; later samples match the saved curriculum's.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.

        Raises:
            ValueError: If the state is of a task space with another number of tasks, or of
                another mode.
        """
        plr = state["plr"]
        if plr["num_tasks"] != self._n:
            raise ValueError(f"state has {plr['num_tasks']} tasks, this curriculum has {self._n}")
        saved_mode = plr.get("mode", "corrected")
        if saved_mode != self.mode:
            raise ValueError(f"state is of mode={saved_mode!r}, this curriculum has mode={self.mode!r}")
        super().load_state_dict(state)
        self._scores = np.array(plr["scores"], dtype=np.float64)
        self._scored = np.array(plr["scored"], dtype=np.bool_)
        self._max_returns = np.array(plr["max_returns"], dtype=np.float64)
        self._last_sampled = np.array(plr["last_sampled"], dtype=np.int64)
        self._count = int(plr["count"])
        self._seen_list = [int(i) for i in plr["seen"]]
        self._seen = np.zeros(self._n, dtype=np.bool_)
        self._seen[self._seen_list] = True
        self._unseen = IndexPool([int(i) for i in plr["unseen"]], self._n)
        self._staleness = StalenessTree(self._seen, self._last_sampled)
        self._partial.load_state_dict(plr["partial"])
        self._ranked = RankedTasks(self._n, self.temperature, plr["rank_order"])
        self._previous_last_done = np.array(plr.get("previous_last_done", []), dtype=np.bool_)
        self._stale_poisoned = np.array(plr.get("stale_poisoned", np.zeros(self._n)), dtype=np.bool_)
        self._poison_all = True
        self._poison_pending = []
        if self._reference_ranks is not None:
            self._reference_ranks = ReferenceRanks(self._n, self.temperature, self._scores, self._scored)
        self._refresh_score_sampler()


def replay_mask(task_metadata: Sequence[Mapping[str, Any] | None] | Mapping[str, Any]) -> np.ndarray:
    """Which envs' current episodes the learner trains on, from their reset ``info["task_metadata"]``.

    Robust PLR (``robust=True``) takes no gradient steps on new tasks: their rollouts only score
    them. Multiply each step's losses by the entry of its env. Episodes without metadata (e.g.
    tasks not sampled by PLR) are trained on.

    Args:
        task_metadata: Each env's metadata (``None`` when absent), or the batched form a gymnasium
            vector env puts in its info (``{"train": array, "_train": mask, ...}``).

    Example:
        >>> replay_mask([{"replay": True, "train": True}, {"replay": False, "train": False}, None]).tolist()
        [True, False, True]
    """
    if isinstance(task_metadata, Mapping):
        return np.where(task_metadata["_train"], task_metadata["train"], True).astype(bool)
    return np.array([meta is None or bool(meta.get("train", True)) for meta in task_metadata], dtype=np.bool_)


def _where(mask: np.ndarray) -> str:
    """``at step t, env e`` (or ``at index ...``) of the first true entry of ``mask``."""
    first = tuple(int(i) for i in np.argwhere(mask)[0])
    return f"at step {first[0]}, env {first[1]}" if len(first) == 2 else f"at index {first}"


def _numbers(name: str, array: Any) -> np.ndarray:
    """``array`` as float64 if it holds numbers (not strings, which numpy would parse, nor objects)."""
    values = np.asarray(array)
    if values.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be an array of numbers, got dtype {values.dtype} ({values.flat[0]!r}, ...)"
            if values.size
            else f"{name} must be an array of numbers, got dtype {values.dtype}"
        )
    return values.astype(np.float64)


def _check_finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {array[bad][0].item()!r} {_where(bad)}")


def _dones(dones: Any) -> np.ndarray:
    """``dones`` as booleans; numbers must be 0 or 1."""
    array = np.asarray(dones)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"dones must be booleans (or 0/1 numbers), got dtype {array.dtype}")
    bad = (array != 0) & (array != 1)
    if bad.any():
        raise ValueError(
            f"dones must be booleans (or 0/1 numbers), got {array[bad][0].item()!r} {_where(bad)}"
        )
    return array.astype(bool)


def _log_softmax(log_dist: np.ndarray) -> np.ndarray:
    """Rows of ``log_dist`` normalized to log-probabilities; rejects NaN, ``+inf`` and rows of ``-inf``."""
    bad = np.isnan(log_dist) | np.isposinf(log_dist)
    if bad.any():
        step, env, action = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            "action_log_dist must hold log-probabilities or logits (finite, or -inf for probability 0), "
            f"got {log_dist[step, env, action].item()!r} at step {step}, env {env}, action {action}"
        )
    top = log_dist.max(axis=-1, keepdims=True)
    if np.isneginf(top).any():
        step, env = (int(i) for i in np.argwhere(np.isneginf(top[..., 0]))[0])
        raise ValueError(f"action_log_dist gives every action probability 0 at step {step}, env {env}")
    shifted = log_dist - top
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _normalized(weights: np.ndarray) -> np.ndarray | None:
    total = weights.sum()
    return weights / total if total > 0 else None


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(choices)}")


def _check_range(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool) and low <= float(value) <= high
    if not valid or (low_open and value == low):
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name}={value!r} is not valid; it must be a number in {bounds}")
