"""Prioritized Level Replay (Jiang, Grefenstette, Rocktäschel 2021) and Robust PLR (Jiang et al. 2021)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from syllabus.core.checks import check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.curricula.plr.corrected import CorrectedSampler
from syllabus.curricula.plr.records import TaskRecords
from syllabus.curricula.plr.reference_sampler import ReferenceSampler
from syllabus.curricula.plr.replay import ReplaySampler, UniformSampler
from syllabus.curricula.plr.rollouts import check_rollout
from syllabus.curricula.plr.settings import Settings
from syllabus.task_space import TaskSpace


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
    raises [`ReferenceModeError`][syllabus.core.errors.ReferenceModeError] (a ``ValueError``)
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
        settings = Settings(
            strategy=strategy,
            score_transform=score_transform,
            temperature=temperature,
            staleness_coef=staleness_coef,
            staleness_transform=staleness_transform,
            staleness_temperature=staleness_temperature,
            alpha=alpha,
            replay_schedule=replay_schedule,
            rho=rho,
            replay_prob=replay_prob,
            gamma=gamma,
            gae_lambda=gae_lambda,
            robust=robust,
            eps=eps,
            mode=mode,
        )
        self.strategy = settings.strategy
        self.score_transform = settings.score_transform
        self.temperature = settings.temperature
        self.staleness_coef = settings.staleness_coef
        self.staleness_transform = settings.staleness_transform
        self.staleness_temperature = settings.staleness_temperature
        self.alpha = settings.alpha
        self.replay_schedule = settings.replay_schedule
        self.rho = settings.rho
        self.replay_prob = settings.replay_prob
        self.gamma = settings.gamma
        self.gae_lambda = settings.gae_lambda
        self.robust = settings.robust
        self.eps = settings.eps
        self.mode = settings.mode
        self._n = num_tasks
        self._records = TaskRecords(num_tasks)
        # The one place where the mode (or the random strategy) decides anything.
        self._sampler: ReplaySampler
        if settings.strategy == "random":
            self._sampler = UniformSampler(settings, self._records)
        elif settings.mode == "reference":
            self._sampler = ReferenceSampler(settings, self._records)
        else:
            self._sampler = CorrectedSampler(settings, self._records)

    # ----------------------------------------------------------------- sampling
    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks, one at a time (each sample updates staleness).

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        return [self.task_space.decode(self._sampler.sample(self.rng)[0]) for _ in range(k)]

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
            index, replay = self._sampler.sample(self.rng)
            out.append(
                (self.task_space.decode(index), {"replay": replay, "train": replay or not self.robust})
            )
        return out

    @property
    def scores(self) -> np.ndarray:
        """The current score of each encoded task (NaN for tasks not scored yet)."""
        return np.where(self._records.scored, self._records.scores, np.nan)

    def sample_weights(self) -> np.ndarray:
        """The replay distribution over encoded tasks (zeros for unseen tasks; all zeros before any).

        For ``strategy="random"``, the uniform distribution. In reference mode, the weights the
        reference's ``sample_weights()`` returns; when they are all zero, a replay is uniform over
        all tasks (see [`task_distribution`][syllabus.curricula.plr.plr.PrioritizedLevelReplay.task_distribution]).

        Raises:
            ReferenceModeError: In reference mode, if the reference could not sample from the weights.
        """
        return self._sampler.sample_weights()

    def task_distribution(self) -> np.ndarray:
        """Probability of each encoded task at the next sample, new-task draws included."""
        return self._sampler.task_distribution()

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
        rollout = check_rollout(
            tasks,
            rewards,
            dones,
            values,
            next_values,
            action_log_dist,
            num_tasks=self._n,
            strategy=self.strategy,
        )
        self._sampler.update(rollout)

    # -------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Scores, staleness counters, seen tasks, carried partial episodes and the random generator."""
        state = super().state_dict()
        state["plr"] = {
            "num_tasks": self._n,
            "mode": self.mode,
            **self._records.state_dict(),
            **self._sampler.state_dict(),
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
        self._records.load_state_dict(plr)
        self._sampler.load_state_dict(plr)


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
