"""A one-round game whose opponent is loaded from an opponent pool, for the self-play tests.

Worker processes (spawn, forkserver, Ray) import this module by name.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from syllabus.core import MultiProcessingSyncWrapper, RaySyncWrapper, TaskEnv
from syllabus.curricula import OpponentPool, OpponentTaskSpace
from syllabus.task_space import TaskSpace, TupleTaskSpace


def snapshot(tag: int) -> dict[str, Any]:
    """A mixed rock-paper-scissors strategy labelled ``tag``: rock, scissors or uniform by ``tag % 3``."""
    probs = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]][tag % 3]
    return {"tag": tag, "probs": np.array(probs)}


class RockPaperScissors(TaskEnv):
    """One round of rock-paper-scissors against the opponent of the task (an id, or a pair (level, id)).

    Reward +1 win, -1 loss, 0 draw; the reset info names the loaded snapshot (``opponent_tag``) so
    tests can check that every env loaded the snapshot the learner added under that id.
    """

    def __init__(self, pool: OpponentPool, task_space: TaskSpace | None = None) -> None:
        super().__init__(task_space or OpponentTaskSpace())
        self.pool = pool
        self.observation_space = gym.spaces.Discrete(1)
        self.action_space = gym.spaces.Discrete(3)
        self.opponent: dict[str, Any] = {}

    def change_task(self, new_task: Any) -> None:
        agent_id = new_task[1] if isinstance(self.task_space, TupleTaskSpace) else new_task
        self.opponent = self.pool.load(agent_id)

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, new_task=new_task)
        return 0, {"opponent_tag": self.opponent["tag"]}

    def step(self, action):
        theirs = int(self.np_random.choice(3, p=self.opponent["probs"]))
        reward = [0.0, 1.0, -1.0][(int(action) - theirs) % 3]
        return 0, reward, True, False, {}


def make_rps_env(task_queue, update_queue, pool: OpponentPool) -> MultiProcessingSyncWrapper:
    """Env factory for vector envs: a synced rock-paper-scissors env."""
    return MultiProcessingSyncWrapper(RockPaperScissors(pool), task_queue, update_queue)


def run_ray_rps(pool: OpponentPool, episodes: int) -> list[tuple[int, int, float]]:
    """Runs ``episodes`` rounds of a Ray-synced env; returns (opponent id, loaded tag, reward) of each."""
    env = RaySyncWrapper(RockPaperScissors(pool))
    played = []
    try:
        for _ in range(episodes):
            _, info = env.reset()
            _, reward, *_ = env.step(1)
            played.append((int(info["task"]), int(info["opponent_tag"]), float(reward)))
    finally:
        env.close()
    return played
