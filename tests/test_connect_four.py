"""ConnectFourTaskEnv: the learner's view of Connect Four against the opponent its task names."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from syllabus.core import DirectSyncWrapper
from syllabus.core.task_interface import check_task_interface
from syllabus.curricula import DomainRandomization
from syllabus.envs.connect_four import (
    ConnectFourTaskEnv,
    HeuristicOpponent,
    RandomOpponent,
    drop,
    make_connect_four,
    wins,
)
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError

# A drawn game (found by two heuristic players): the learner moves first.
DRAW_LEARNER = [0, 1, 6, 4, 3, 1, 5, 6, 2, 6, 6, 1, 3, 2, 0, 5, 3, 3, 1, 4, 4]
DRAW_OPPONENT = [4, 2, 0, 2, 6, 5, 0, 1, 2, 5, 6, 2, 1, 5, 0, 0, 3, 3, 4, 4, 5]


class Scripted:
    """An opponent that plays the given columns in order and records the masks it was shown."""

    def __init__(self, columns: list[int]) -> None:
        self.columns = list(columns)
        self.masks: list[np.ndarray] = []

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        self.masks.append(np.array(action_mask))
        return self.columns.pop(0)


def scripted_env(columns: list[int], seat: str = "first") -> tuple[ConnectFourTaskEnv, Scripted]:
    opponent = Scripted(columns)
    env = make_connect_four(["scripted"], load_opponent=lambda task: opponent, seat=seat)
    return env, opponent


def play(env: ConnectFourTaskEnv, columns: list[int]) -> tuple[list[float], dict]:
    rewards, info = [], {}
    for column in columns:
        _, reward, terminated, truncated, info = env.step(column)
        rewards.append(reward)
        if terminated or truncated:
            break
    return rewards, info


def board(rows: list[str]) -> np.ndarray:
    """A (6, 7, 2) observation from rows drawn top to bottom: ``x`` own pieces, ``o`` the other player's."""
    grid = np.array([list(row) for row in rows])
    return np.stack([grid == "x", grid == "o"], axis=-1).astype(np.int8)


def test_spaces_task_interface_and_default_opponents():
    env = make_connect_four()
    check_task_interface(env)
    assert env.task_space == DiscreteTaskSpace(["random", "heuristic"])
    assert env.task == "random"
    assert env.observation_space == gym.spaces.Box(0, 1, (6, 7, 2), np.int8)
    assert env.action_space == gym.spaces.Discrete(7)
    obs, info = env.reset(seed=0, new_task="heuristic")
    assert env.task == "heuristic" and env.observation_space.contains(obs) and info == {"seat": "first"}
    assert env.action_masks().tolist() == [True] * 7
    with pytest.raises(TaskSpaceError):
        env.reset(new_task="nobody")
    with pytest.raises(ValueError, match="seat must be one of"):
        make_connect_four(seat="left")


def test_an_opponent_without_a_loader_is_refused():
    env = make_connect_four(["random", 7])
    with pytest.raises(ValueError, match="has no load_opponent"):
        env.reset(new_task=7)


def test_learner_wins_with_four_in_a_column():
    env, _ = scripted_env([1, 1, 1])
    obs, _ = env.reset()
    rewards, info = play(env, [0, 0, 0, 0])
    assert rewards == [0.0, 0.0, 0.0, 1.0]
    assert info == {"seat": "first", "outcome": "win", "task_completion": 1.0}
    assert env.action_masks().tolist() == [False] * 7  # the game is over
    with pytest.raises(RuntimeError, match="reset"):
        env.step(2)


def test_learner_loses_when_the_opponent_connects_four():
    env, _ = scripted_env([1, 1, 1, 1])
    env.reset()
    rewards, info = play(env, [0, 0, 0, 6])
    assert rewards == [0.0, 0.0, 0.0, -1.0]
    assert info["outcome"] == "loss" and info["task_completion"] == 0.0


def test_a_full_board_is_a_draw():
    env, _ = scripted_env(DRAW_OPPONENT)
    env.reset()
    rewards, info = play(env, DRAW_LEARNER)
    assert len(rewards) == 21 and rewards[-1] == 0.0 and sum(rewards) == 0.0
    assert info["outcome"] == "draw" and info["task_completion"] == 0.5


def test_masks_follow_full_columns_and_an_illegal_move_loses():
    env, opponent = scripted_env([0, 0, 0])
    env.reset()
    play(env, [0, 0, 0])  # column 0 is now full: 3 pieces each, alternating
    assert env.action_masks().tolist() == [False] + [True] * 6
    assert opponent.masks[-1].tolist() == [1] * 7  # the opponent's last move filled it
    _, reward, terminated, _, info = env.step(0)
    assert (reward, terminated, info["outcome"], info["illegal_move"]) == (-1.0, True, "loss", True)


def test_seats_alternate_and_the_opponent_opens_when_the_learner_is_second():
    env, opponent = scripted_env([3, 3], seat="alternate")
    seats = []
    for _ in range(2):
        obs, info = env.reset()
        seats.append(info["seat"])
        if info["seat"] == "second":
            assert (
                obs[..., 1].sum() == 1 and obs[5, 3, 1] == 1
            )  # the opponent's opening piece, seen as "other"
            assert obs[..., 0].sum() == 0
        else:
            assert obs.sum() == 0
    assert seats == ["first", "second"]
    for seat in ("first", "second"):
        env = make_connect_four(seat=seat)
        assert [env.reset(seed=s)[1]["seat"] for s in range(3)] == [seat] * 3
    env = make_connect_four(seat="random")
    assert {env.reset(seed=s)[1]["seat"] for s in range(20)} == {"first", "second"}


def test_win_check_in_every_direction():
    for cells in (
        [(5, 0), (5, 1), (5, 2), (5, 3)],
        [(2, 6), (3, 6), (4, 6), (5, 6)],
        [(2, 0), (3, 1), (4, 2), (5, 3)],
        [(5, 3), (4, 4), (3, 5), (2, 6)],
    ):
        pieces = np.zeros((6, 7), bool)
        for cell in cells:
            pieces[cell] = True
        assert wins(pieces)
        pieces[cells[1]] = False
        assert not wins(pieces)
    occupied = np.zeros((6, 7), bool)
    occupied[3:, 2] = True
    assert drop(np.zeros((6, 7), bool), occupied, 2)[2, 2]
    occupied[:, 2] = True
    with pytest.raises(ValueError, match="full"):
        drop(np.zeros((6, 7), bool), occupied, 2)


def test_heuristic_wins_if_it_can_else_blocks():
    rng = np.random.default_rng(0)
    mask = np.ones(7, np.int8)
    block = board(["......."] * 5 + ["ooo.xx."])
    assert {HeuristicOpponent().act(block, mask, rng) for _ in range(20)} == {3}
    win_or_block = board(["......."] * 3 + ["x......", "x......", "xooo..."])
    assert {HeuristicOpponent().act(win_or_block, mask, rng) for _ in range(20)} == {0}  # its win comes first
    # "o" completes the diagonal (5,0)-(2,3) by dropping into column 0; "x" has no winning move.
    diagonal = board(["......."] * 2 + ["...o...", "..ox...", ".oxo...", ".xxo..."])
    own, other = diagonal[..., 0].astype(bool), diagonal[..., 1].astype(bool)
    assert [c for c in range(7) if wins(drop(other, own | other, c))] == [0]
    assert not any(wins(drop(own, own | other, c)) for c in range(7))
    assert {HeuristicOpponent().act(diagonal, mask, rng) for _ in range(20)} == {0}
    nothing = board(["......."] * 6)
    assert {HeuristicOpponent().act(nothing, mask, rng) for _ in range(50)} == set(range(7))
    assert RandomOpponent().act(nothing, np.array([0, 0, 1, 0, 0, 1, 0], np.int8), rng) in (2, 5)


def test_heuristic_beats_random_play():
    env = make_connect_four(["random"])
    heuristic, rng = HeuristicOpponent(), np.random.default_rng(1)
    outcomes = []
    for game in range(60):
        obs, _ = env.reset(seed=game)
        done = False
        while not done:
            column = heuristic.act(obs, env.action_masks().astype(np.int8), rng)
            obs, _, done, _, info = env.step(column)
        outcomes.append(info["outcome"])
    assert outcomes.count("win") >= 50


def test_a_curriculum_chooses_fixed_opponents_through_a_sync_wrapper():
    env = make_connect_four()
    curriculum = DomainRandomization(env.task_space, random_seed=0)
    synced = DirectSyncWrapper(env, curriculum)
    seen = set()
    for game in range(20):
        _, info = synced.reset(seed=game)
        seen.add(info["task"])
        done = False
        while not done:
            column = int(np.flatnonzero(synced.get_wrapper_attr("action_masks")())[0])
            _, _, done, _, _ = synced.step(column)
    assert seen == {"random", "heuristic"}
