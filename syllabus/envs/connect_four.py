"""Connect Four against an opponent the curriculum chooses: the learner's single-agent view of a two-player game.

Needs the optional ``pettingzoo`` extra (``pip install "syllabus-curriculum[pettingzoo]"``): the game
is PettingZoo's classic ``connect_four_v3``, imported when the first environment is built.

The task is the opponent. [`ConnectFourTaskEnv`][syllabus.envs.connect_four.ConnectFourTaskEnv]
plays one seat for the learner and runs the opponent of the current task in the other: a fixed
opponent (``"random"``, ``"heuristic"``) or whatever ``load_opponent(task)`` returns, e.g. a policy
snapshot from an opponent pool. Opponents implement [`Opponent`][syllabus.envs.connect_four.Opponent].

Observations are PettingZoo's, from the learner's side: ``Box(0, 1, (6, 7, 2), int8)``, plane 0 the
learner's pieces and plane 1 the opponent's, row 0 the top row. Actions are the 7 columns;
[`action_masks`][syllabus.envs.connect_four.ConnectFourTaskEnv.action_masks] gives the legal ones
(for ``sb3-contrib``'s ``MaskablePPO``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from syllabus.core.task_interface import TaskEnv
from syllabus.task_space import DiscreteTaskSpace, TaskSpace

INSTALL_HINT = 'pip install "syllabus-curriculum[pettingzoo]"'
ROWS, COLUMNS = 6, 7
SEATS = ("alternate", "first", "second", "random")
"""Seat choices of the learner: alternate per episode (first in even episodes), always first, always second,
or random per episode."""
OUTCOMES = {"win": 1.0, "draw": 0.0, "loss": -1.0}
"""The learner's reward at the end of an episode for each outcome (its episode return)."""


@functools.cache
def import_connect_four() -> ModuleType:
    """Imports PettingZoo's ``connect_four_v3``.

    Raises:
        ImportError: If PettingZoo (or pygame, which ``connect_four_v3`` imports) is missing, naming the extra.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "create the env through the registry"
            from pettingzoo.classic import connect_four_v3
    except ImportError as exc:
        raise ImportError(f"env connect_four needs pettingzoo and pygame ({exc}): {INSTALL_HINT}") from exc
    return connect_four_v3


class Opponent(Protocol):
    """A player of the other seat: picks a legal column from its own view of the board."""

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        """The column to play.

        Args:
            observation: The board from the opponent's side, ``(6, 7, 2)``: plane 0 its own pieces.
            action_mask: ``(7,)``, 1 where the column is not full.
            rng: The env's generator, for random choices (episodes replay exactly under a seed).
        """
        ...


class RandomOpponent:
    """Plays a uniformly random legal column."""

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        return int(rng.choice(np.flatnonzero(action_mask)))


class HeuristicOpponent:
    """One-step look-ahead: wins if it can, else blocks a column where the other player would win, else random."""

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        legal = np.flatnonzero(action_mask)
        own, other = observation[..., 0].astype(bool), observation[..., 1].astype(bool)
        for pieces in (own, other):  # a winning move first, then a block
            for column in legal:
                if wins(drop(pieces, own | other, int(column))):
                    return int(column)
        return int(rng.choice(legal))


FIXED_OPPONENTS: dict[str, Callable[[], Opponent]] = {
    "random": RandomOpponent,
    "heuristic": HeuristicOpponent,
}
"""Opponents every [`ConnectFourTaskEnv`][syllabus.envs.connect_four.ConnectFourTaskEnv] knows by name."""


def drop(pieces: np.ndarray, occupied: np.ndarray, column: int) -> np.ndarray:
    """``pieces`` (a ``(6, 7)`` bool board) with one more piece dropped into ``column`` on top of ``occupied``."""
    rows = np.flatnonzero(~occupied[:, column])
    if not rows.size:
        raise ValueError(f"column {column} is full")
    out = pieces.copy()
    out[rows[-1], column] = True  # row 0 is the top: the lowest free cell has the largest row index
    return out


def wins(pieces: np.ndarray) -> bool:
    """Whether a ``(6, 7)`` bool board of one player's pieces holds four in a row in any direction."""
    b = pieces
    return bool(
        (b[:, :-3] & b[:, 1:-2] & b[:, 2:-1] & b[:, 3:]).any()  # horizontal
        or (b[:-3] & b[1:-2] & b[2:-1] & b[3:]).any()  # vertical
        or (b[:-3, :-3] & b[1:-2, 1:-2] & b[2:-1, 2:-1] & b[3:, 3:]).any()  # down-right
        or (b[3:, :-3] & b[2:-1, 1:-2] & b[1:-2, 2:-1] & b[:-3, 3:]).any()  # up-right
    )


class ConnectFourTaskEnv(TaskEnv):
    """Connect Four for one learner; the task is the opponent, run inside the env in the other seat.

    Each ``step`` plays the learner's column and then, unless the game is over, the opponent's reply;
    when the learner plays second, ``reset`` plays the opponent's first move. The reward is 0 until
    the game ends, then +1 (learner won), -1 (lost) or 0 (draw): the episode return is the
    outcome. At the episode end ``info["outcome"]`` is ``"win"``, ``"loss"`` or ``"draw"`` and
    ``info["task_completion"]`` is 1.0 for a win, 0.5 for a draw and 0.0 for a loss. An illegal
    column (a full one: use
    [`action_masks`][syllabus.envs.connect_four.ConnectFourTaskEnv.action_masks]) loses the game at
    once (``info["illegal_move"]``), as in PettingZoo's own ``connect_four_v3``. ``info["seat"]`` is
    ``"first"`` or ``"second"``.

    ``reset()`` without a task keeps the current opponent (at first the task space's first task,
    encoding 0).

    Args:
        task_space: The opponents: names of
            [`FIXED_OPPONENTS`][syllabus.envs.connect_four.FIXED_OPPONENTS] and ids ``load_opponent``
            knows. Defaults to the fixed opponents.
        load_opponent: Returns the [`Opponent`][syllabus.envs.connect_four.Opponent] of a task that
            is not a fixed opponent's name; called at every reset with such a task (cache in it what
            is expensive to load).
        seat: The learner's seat, one of [`SEATS`][syllabus.envs.connect_four.SEATS].
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        task_space: TaskSpace | None = None,
        load_opponent: Callable[[Any], Opponent] | None = None,
        seat: str = "alternate",
    ) -> None:
        if seat not in SEATS:
            raise ValueError(f"seat must be one of {', '.join(SEATS)}, got {seat!r}")
        space = task_space if task_space is not None else DiscreteTaskSpace(list(FIXED_OPPONENTS))
        super().__init__(space)
        self._game = import_connect_four().raw_env()
        self._load_opponent = load_opponent
        self._seat_choice = seat
        self._fixed = {name: make() for name, make in FIXED_OPPONENTS.items()}
        self._task = space.decode(0)
        self._opponent: Opponent | None = None
        self._episodes = 0
        self._learner = "player_0"
        self._done = True
        self.observation_space = gym.spaces.Box(0, 1, (ROWS, COLUMNS, 2), np.int8)
        self.action_space = gym.spaces.Discrete(COLUMNS)

    def change_task(self, new_task: Any) -> None:
        """Loads the opponent of ``new_task`` (at the reset that switches to it)."""
        self._opponent = self._opponent_of(new_task)

    def _opponent_of(self, task: Any) -> Opponent:
        if isinstance(task, str) and task in self._fixed:
            return self._fixed[task]
        if self._load_opponent is None:
            raise ValueError(
                f"opponent {task!r} is not one of the fixed opponents ({', '.join(self._fixed)}) and this env "
                "has no load_opponent"
            )
        return self._load_opponent(task)

    @property
    def seat(self) -> str:
        """The learner's seat in the current episode: ``"first"`` or ``"second"``."""
        return "first" if self._learner == "player_0" else "second"

    def reset(  # type: ignore[override]  # TaskEnv.reset returns None; envs return (obs, info)
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts a game against ``new_task`` (or the current opponent); plays the opponent's move if it starts."""
        super().reset(seed=seed, new_task=new_task)
        if self._opponent is None:
            self._opponent = self._opponent_of(self._task)
        if self._seat_choice == "alternate":
            first = self._episodes % 2 == 0
        elif self._seat_choice == "random":
            first = bool(self.np_random.integers(2) == 0)
        else:
            first = self._seat_choice == "first"
        self._episodes += 1
        self._learner = "player_0" if first else "player_1"
        self._game.reset()
        self._done = False
        if not first:
            self._opponent_move()
        return self._observe(), {"seat": self.seat}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Plays the learner's column, then the opponent's reply unless the game ended."""
        if self._done:
            raise RuntimeError("the game is over: call reset() before step()")
        column = int(action)
        if not (0 <= column < COLUMNS and self._legal()[column]):
            return self._finish("loss", illegal_move=True)
        self._game.step(column)
        outcome = self._outcome()
        if outcome is None:
            self._opponent_move()
            outcome = self._outcome()
        if outcome is None:
            return self._observe(), 0.0, False, False, {"seat": self.seat}
        return self._finish(outcome)

    def action_masks(self) -> np.ndarray:
        """The learner's legal columns, ``(7,)`` bool (all ``False`` once the game is over)."""
        if self._done:
            return np.zeros(COLUMNS, dtype=bool)
        return self._legal()

    def _legal(self) -> np.ndarray:
        """The columns whose top cell is empty (the board is row-major, top row first)."""
        return np.array(self._game.board[:COLUMNS]) == 0

    def _opponent_move(self) -> None:
        assert self._opponent is not None
        view = self._game.observe(self._game.agent_selection)
        column = int(self._opponent.act(view["observation"], view["action_mask"], self.np_random))
        if not view["action_mask"][column]:
            raise ValueError(f"opponent {self._task!r} played column {column}, which is full")
        self._game.step(column)

    def _outcome(self) -> str | None:
        """The learner's outcome once the game is over, else ``None``."""
        if not any(self._game.terminations.values()):
            return None
        reward = self._game.rewards[self._learner]
        return "win" if reward > 0 else "loss" if reward < 0 else "draw"

    def _observe(self) -> np.ndarray:
        return self._game.observe(self._learner)["observation"]

    def _finish(self, outcome: str, **extra: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._done = True
        info = {
            "seat": self.seat,
            "outcome": outcome,
            "task_completion": {"win": 1.0, "draw": 0.5, "loss": 0.0}[outcome],
            **extra,
        }
        return self._observe(), OUTCOMES[outcome], True, False, info

    def close(self) -> None:
        self._game.close()


def make_connect_four(
    opponents: Sequence[Any] | TaskSpace | None = None,
    load_opponent: Callable[[Any], Opponent] | None = None,
    seat: str = "alternate",
) -> ConnectFourTaskEnv:
    """Builds a [`ConnectFourTaskEnv`][syllabus.envs.connect_four.ConnectFourTaskEnv] whose tasks are
    ``opponents`` (default: the fixed ones).

    Args:
        opponents: Opponent ids (a sequence or a task space).
        load_opponent: Loads an opponent that is not fixed (see
            [`ConnectFourTaskEnv`][syllabus.envs.connect_four.ConnectFourTaskEnv]).
        seat: The learner's seat, one of [`SEATS`][syllabus.envs.connect_four.SEATS].
    """
    if opponents is None or isinstance(opponents, TaskSpace):
        space = opponents
    else:
        space = DiscreteTaskSpace(list(opponents))
    return ConnectFourTaskEnv(space, load_opponent, seat)
