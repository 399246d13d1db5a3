"""Self-play curricula: the task is the opponent, a snapshot id in an [`OpponentPool`][syllabus.curricula.OpponentPool].

Outcome convention: each env reports the *learning agent's* result in the episode update it
already sends. By default (``outcome="return"``) the sign of the learning agent's episode return
decides: > 0 a win, < 0 a loss, 0 a draw (PettingZoo's classic games reward +1/-1/0 at the end).
With ``outcome="progress"`` the env puts ``info["task_completion"]`` on its last step: 1 for a
win, 0 for a loss, 0.5 for a draw. The learner needs no extra call.

A win rate counts a draw as half a win: ``p = (wins + draws / 2) / games`` over all games against
that opponent (or the last ``window`` ones); an opponent without games has ``p = 0.5``.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from syllabus.core.checks import check_optional_count, check_positive, check_sample_count
from syllabus.core.curriculum import Curriculum, Task
from syllabus.core.errors import CurriculumError
from syllabus.curricula.opponent_pool import OpponentPool
from syllabus.task_space import TaskSpace
from syllabus.task_space.base import is_index

Outcome = Literal["return", "progress"]
_OUTCOMES = ("return", "progress")
_SCORES = {1.0: "wins", 0.5: "draws", 0.0: "losses"}
_MAX_ID = np.iinfo(np.int32).max  # ids stay below it: no pool adds 2**31 snapshots


class OpponentTaskSpace(TaskSpace):
    """The tasks of self-play: opponent ids, the non-negative ints an [`OpponentPool`][syllabus.curricula.OpponentPool] assigns.

    The space is every id the pool may ever assign, so it never changes as snapshots are added
    (a checkpoint's space equals a fresh curriculum's) and copies in env processes never go
    stale. It is not enumerable (which ids exist is the pool's business); an id encodes to
    itself. It fits in a [`TupleTaskSpace`][syllabus.task_space.TupleTaskSpace] beside an
    environment's own tasks (see [`DualCurriculumWrapper`][syllabus.curricula.DualCurriculumWrapper]).
    """

    @property
    def num_tasks(self) -> None:
        """``None``: the ids are not a fixed list."""
        return None

    def _sample(self, rng: np.random.Generator) -> int:
        raise CurriculumError(
            "opponent ids cannot be drawn from the task space alone: a self-play curriculum samples them from its pool"
        )

    def contains(self, task: Any) -> bool:
        """Whether ``task`` is an int in ``[0, 2**31 - 1)`` (a Python or numpy integer, not a bool)."""
        return is_index(task, _MAX_ID)

    def encode(self, task: Any) -> int:
        """An id encodes to itself."""
        if not self.contains(task):
            raise self._task_error(task)
        return int(task)

    def decode(self, encoding: Any) -> int:
        """An encoding is the id itself."""
        if not self.contains(encoding):
            raise self._encoding_error(encoding)
        return int(encoding)

    def to_gym_space(self) -> gym.spaces.Space:
        """``Discrete(2**31 - 1)``: the ids."""
        return gym.spaces.Discrete(_MAX_ID)

    def _valid_encodings(self) -> str:
        return "non-negative integers (opponent ids)"

    def _key(self) -> Hashable:
        return ()

    def __repr__(self) -> str:
        return "OpponentTaskSpace()"


class _Record:
    """Wins, draws and losses against one opponent, over all games or the last ``window``."""

    __slots__ = ("counts", "recent", "window", "games", "points")

    def __init__(self, window: int | None) -> None:
        self.counts = {"wins": 0, "draws": 0, "losses": 0}
        self.recent: deque[float] | None = deque() if window is not None else None
        self.window = window
        self.games = 0
        self.points = 0.0  # wins + draws / 2

    def add(self, score: float) -> None:
        self.counts[_SCORES[score]] += 1
        self.games += 1
        self.points += score
        if self.recent is not None and self.window is not None:
            self.recent.append(score)
            if len(self.recent) > self.window:
                old = self.recent.popleft()
                self.counts[_SCORES[old]] -= 1
                self.games -= 1
                self.points -= old

    def win_rate(self) -> float:
        return 0.5 if self.games == 0 else self.points / self.games

    def state(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "recent": None if self.recent is None else list(self.recent)}

    @classmethod
    def from_state(cls, state: dict[str, Any], window: int | None) -> _Record:
        record = cls(window)
        record.counts = dict(state["counts"])
        record.recent = None if state["recent"] is None else deque(state["recent"])
        record.games = sum(record.counts.values())
        record.points = record.counts["wins"] + 0.5 * record.counts["draws"]
        return record


class OpponentCurriculum(Curriculum):
    """Base of the self-play curricula: the pool, the win-rate bookkeeping, sampling by weights.

    Subclasses define [`weights`][syllabus.curricula.OpponentCurriculum.weights] over the
    opponents. The learner adds snapshots with
    [`add_agent`][syllabus.curricula.OpponentCurriculum.add_agent], through the curriculum (also
    when ``make_*_curriculum`` serves it), before any env resets and then as often as it likes.
    Envs get their tasks ahead of time (the sync wrappers prefetch), so a new snapshot is first
    played about one episode after it is added.

    Args:
        pool: The opponent pool; the curriculum is its only writer.
        outcome: How an episode update tells the learning agent's result: ``"return"`` (the sign
            of the episode return) or ``"progress"`` (``info["task_completion"]``: 1, 0.5 or 0).
        window: Win rates over the last ``window`` games per opponent; ``None``: all games.
        **kwargs: Arguments of [`Curriculum`][syllabus.core.Curriculum] (``random_seed``, ``record_stats``).

    Raises:
        TypeError: ``pool`` is not an [`OpponentPool`][syllabus.curricula.OpponentPool].
        ValueError: ``outcome`` or ``window`` is not valid.
    """

    def __init__(
        self, pool: OpponentPool, *, outcome: Outcome = "return", window: int | None = None, **kwargs: Any
    ) -> None:
        if not isinstance(pool, OpponentPool):
            raise TypeError(f"pool must be an OpponentPool, got {pool!r}")
        if outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {list(_OUTCOMES)}, got {outcome!r}")
        window = check_optional_count("window", window, 1)
        super().__init__(OpponentTaskSpace(), **kwargs)
        self.pool = pool
        self.outcome = outcome
        self.window = window
        self._records: dict[int, _Record] = {}
        self.stale_updates = 0  # episodes against opponents that had already left the pool

    # ------------------------------------------------------------------ the pool
    def add_agent(self, agent: Any) -> int:
        """Adds a snapshot of the learning policy to the pool and returns its id (see [`OpponentPool.add_agent`][syllabus.curricula.OpponentPool.add_agent]).

        Win records of opponents that leave the pool are dropped.
        """
        agent_id = self.pool.add_agent(agent)
        self._drop_records_of_evicted()
        return agent_id

    def _drop_records_of_evicted(self) -> None:
        for gone in set(self._records) - set(self.pool.agent_ids):
            del self._records[gone]

    # ------------------------------------------------------------------ win rates
    def _score(self, episode_return: float, progress: float | None) -> float:
        if self.outcome == "return":
            return 1.0 if episode_return > 0 else 0.0 if episode_return < 0 else 0.5
        if progress is None or float(progress) not in _SCORES:
            raise ValueError(
                f"outcome='progress' needs info['task_completion'] on the episode's last step: 1 (win), "
                f"0.5 (draw) or 0 (loss); got {progress!r}"
            )
        return float(progress)

    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Counts the learning agent's win, draw or loss against opponent ``task``.

        Episodes against an opponent that already left the pool only count in ``stale_updates``.

        Raises:
            ValueError: ``task`` is not an opponent id, or (``outcome="progress"``) ``progress`` is
                not 1, 0.5 or 0.
        """
        super().update_on_episode(episode_return, length, task, progress, env_id)
        agent_id = self.task_space.encode(task)
        score = self._score(episode_return, progress)
        if agent_id not in self.pool:
            self.stale_updates += 1
            return
        record = self._records.get(agent_id)
        if record is None:
            record = self._records[agent_id] = _Record(self.window)
        record.add(score)

    def win_rate(self, agent_id: int) -> float:
        """The learning agent's win rate against ``agent_id`` (draws count half; 0.5 before any game)."""
        record = self._records.get(agent_id)
        return 0.5 if record is None else record.win_rate()

    def games(self, agent_id: int) -> dict[str, int]:
        """Wins, draws and losses of the learning agent against ``agent_id`` (in the window, if any)."""
        record = self._records.get(agent_id)
        return dict(record.counts) if record is not None else {"wins": 0, "draws": 0, "losses": 0}

    def win_rates(self) -> dict[int, float]:
        """The win rate against each opponent in the pool, oldest first."""
        return {agent_id: self.win_rate(agent_id) for agent_id in self.pool.agent_ids}

    # ------------------------------------------------------------------ sampling
    def weights(self, agent_ids: list[int]) -> np.ndarray:
        """Unnormalized sampling weights of ``agent_ids`` (the pool's opponents, oldest first)."""
        raise NotImplementedError

    def _opponents(self) -> list[int]:
        ids = self.pool.agent_ids
        if not ids:
            raise CurriculumError(
                f"{type(self).__name__}: the opponent pool is empty. Add the initial policy with "
                "curriculum.add_agent(policy.state_dict()) before environments reset"
            )
        return ids

    def task_distribution(self) -> np.ndarray:
        """The probability of each opponent in the pool, oldest first (aligned with ``pool.agent_ids``).

        Raises:
            CurriculumError: The pool is empty.
        """
        ids = self._opponents()
        weights = np.asarray(self.weights(ids), dtype=np.float64)
        total = weights.sum()
        if not total > 0:  # every weight zero (e.g. "hard" after winning every game): uniform
            return np.full(len(ids), 1.0 / len(ids))
        return weights / total

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` opponent ids from [`task_distribution`][syllabus.curricula.OpponentCurriculum.task_distribution].

        Raises:
            CurriculumError: The pool is empty.
        """
        k = check_sample_count(k)
        ids = self._opponents()
        return [ids[i] for i in self._draw(len(ids), k)]

    def _draw(self, n: int, k: int) -> list[int]:
        """``k`` indices into the ``n`` opponents, by inverse CDF of the distribution (one uniform draw each)."""
        cdf = np.cumsum(self.task_distribution())
        picks = np.searchsorted(cdf, self.rng.random(k) * cdf[-1], side="right")
        return [min(int(i), n - 1) for i in picks]

    # ------------------------------------------------------------------ logging
    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """Pool size, mean win rate, and per opponent (the ``max_tasks`` most likely) probability, win rate, games."""
        out: dict[str, float] = {"curriculum/pool_size": float(len(self.pool))}
        if self.stale_updates:
            out["curriculum/stale_updates"] = float(self.stale_updates)
        ids = self.pool.agent_ids
        if ids:
            dist = self.task_distribution()
            nonzero = dist[dist > 0]
            out["curriculum/task_entropy"] = float(-(nonzero * np.log(nonzero)).sum())
            rates = [self.win_rate(agent_id) for agent_id in ids]
            out["curriculum/mean_win_rate"] = float(np.mean(rates))
            for i in np.argsort(-dist, kind="stable")[:max_tasks]:
                agent_id = ids[int(i)]
                out[f"curriculum/opponent_{agent_id}_prob"] = float(dist[i])
                out[f"curriculum/opponent_{agent_id}_win_rate"] = rates[int(i)]
                out[f"curriculum/opponent_{agent_id}_games"] = float(sum(self.games(agent_id).values()))
        if self.stat_recorder is not None:
            out.update(self.stat_recorder.metrics(max_tasks))
        return out

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The base state plus the pool (ids and snapshots) and the win records."""
        self._drop_records_of_evicted()  # snapshots added to the pool directly evict too
        state = super().state_dict()
        state["pool"] = self.pool.state_dict()
        state["records"] = {agent_id: record.state() for agent_id, record in self._records.items()}
        state["stale_updates"] = self.stale_updates
        state["window"] = self.window
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the pool (writing its snapshots to this pool's store) and the win records.

        Raises:
            ValueError: The state's win rates are over another ``window`` than this curriculum's.
        """
        if state["window"] != self.window:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state's win rates are over window={state['window']!r}, "
                f"this curriculum's over window={self.window!r}; build it with the run's window"
            )
        super().load_state_dict(state)
        self.pool.load_state_dict(state["pool"])
        self._records = {
            agent_id: _Record.from_state(record, self.window) for agent_id, record in state["records"].items()
        }
        self.stale_updates = state["stale_updates"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pool!r})"


class SelfPlay(OpponentCurriculum):
    """Self-play: the opponent is always the latest snapshot of the learning policy.

    As in Samuel's checkers player (1959) and Tesauro's TD-Gammon (1995). A pool with
    ``max_agents=1`` is enough.

    Args:
        pool: The opponent pool.
        **kwargs: Arguments of [`OpponentCurriculum`][syllabus.curricula.OpponentCurriculum].
    """

    def weights(self, agent_ids: list[int]) -> np.ndarray:
        """All weight on the latest snapshot."""
        weights = np.zeros(len(agent_ids))
        weights[-1] = 1.0
        return weights

    def _draw(self, n: int, k: int) -> list[int]:
        return [n - 1] * k  # no random draw


class FictitiousSelfPlay(OpponentCurriculum):
    """Fictitious self-play: opponents uniformly from the last ``max_agents`` snapshots (the pool's).

    After Heinrich, Lanctot and Silver, "Fictitious Self-Play in Extensive-Form Games" (ICML 2015):
    playing the average of past policies rather than the latest one.

    Args:
        pool: The opponent pool; its ``max_agents`` is the window of snapshots.
        **kwargs: Arguments of [`OpponentCurriculum`][syllabus.curricula.OpponentCurriculum].
    """

    def weights(self, agent_ids: list[int]) -> np.ndarray:
        """Equal weights."""
        return np.ones(len(agent_ids))

    def _draw(self, n: int, k: int) -> list[int]:
        if k == 1:  # numpy's scalar path is several times faster
            return [int(self.rng.integers(n))]
        return [int(i) for i in self.rng.integers(n, size=k)]


Weighting = Literal["hard", "variance", "linear", "squared"]


class PrioritizedFictitiousSelfPlay(OpponentCurriculum):
    """Prioritized fictitious self-play (PFSP): opponents weighted by the learning agent's win rate ``p`` against them.

    From Vinyals et al., "Grandmaster level in StarCraft II using multi-agent reinforcement
    learning" (Nature 2019, AlphaStar). Weightings ``f(p)``:

    - ``"hard"``: ``(1 - p) ** exponent``, focus on the opponents the agent loses to;
    - ``"variance"``: ``p * (1 - p)``, focus on opponents of the agent's own level;
    - ``"linear"``: ``1 - p``; ``"squared"``: ``(1 - p) ** 2``.

    An opponent's probability is ``f(p) / sum(f)``; when every weight is 0 (e.g. ``"hard"`` with
    every game won) the choice is uniform.

    Args:
        pool: The opponent pool.
        weighting: One of ``"hard"``, ``"variance"``, ``"linear"``, ``"squared"``.
        exponent: The exponent of ``"hard"``.
        **kwargs: Arguments of [`OpponentCurriculum`][syllabus.curricula.OpponentCurriculum].

    Raises:
        ValueError: ``weighting`` or ``exponent`` is not valid.
    """

    WEIGHTINGS = ("hard", "variance", "linear", "squared")

    def __init__(
        self, pool: OpponentPool, *, weighting: Weighting = "hard", exponent: float = 2.0, **kwargs: Any
    ) -> None:
        if weighting not in self.WEIGHTINGS:
            raise ValueError(f"weighting must be one of {list(self.WEIGHTINGS)}, got {weighting!r}")
        exponent = check_positive("exponent", exponent)
        super().__init__(pool, **kwargs)
        self.weighting = weighting
        self.exponent = exponent

    def _f(self, agent_ids: list[int]) -> list[float]:
        rates = [self.win_rate(agent_id) for agent_id in agent_ids]
        if self.weighting == "variance":
            return [p * (1.0 - p) for p in rates]
        exponent = {"hard": self.exponent, "linear": 1.0, "squared": 2.0}[self.weighting]
        return [(1.0 - p) ** exponent for p in rates]

    def weights(self, agent_ids: list[int]) -> np.ndarray:
        """``f(p)`` of each opponent's win rate."""
        return np.array(self._f(agent_ids))

    def _draw(self, n: int, k: int) -> list[int]:
        # Plain Python: for pools of up to a few hundred opponents, several times faster than numpy.
        cdf = list(itertools.accumulate(self._f(self.pool.agent_ids)))
        if not cdf[-1] > 0:  # every weight zero: uniform, as task_distribution says
            cdf = list(range(1, n + 1))
        return [min(bisect.bisect_right(cdf, u * cdf[-1]), n - 1) for u in self.rng.random(k).tolist()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pool!r}, weighting={self.weighting!r})"
