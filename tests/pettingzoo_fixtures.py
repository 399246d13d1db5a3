"""A tiny deterministic PettingZoo env and rollout loops shared by the PettingZoo tests.

Kept in an importable module so that env factories pickle by reference under spawn and forkserver.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import gymnasium as gym
import numpy as np
from sync_fixtures import TASK_SPACE

from syllabus.core import PettingZooSyncWrapper, PettingZooTaskEnv
from syllabus.task_space import TaskSpace

AGENTS = ["a0", "a1", "a2"]
AgentEpisode = tuple[int, float, int]  # (task, the agent's return, the episode's length)


class CountingParallelEnv(PettingZooTaskEnv):
    """Agent ``i`` acts for ``2 + (task + i) % 4`` steps, then leaves; the episode ends when all have left.

    Rewards are multiples of 1/8 (exact in float sums) and depend on the task, agent and step only.
    Each agent reports ``task_completion`` (its share of its steps done).
    """

    metadata = {"name": "counting_parallel_v0"}

    def __init__(self, task_space: TaskSpace = TASK_SPACE, agents: list[str] | None = None) -> None:
        super().__init__(task_space)
        self.possible_agents = list(agents or AGENTS)
        self.agents: list[str] = []
        self._lives: dict[str, int] = {}
        self._t = 0
        self._obs_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._action_space = gym.spaces.Discrete(2)

    def observation_space(self, agent: str) -> gym.spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> gym.spaces.Space:
        return self._action_space

    def lifetime(self, agent: str) -> int:
        return 2 + (int(self.task or 0) + self.possible_agents.index(agent)) % 4

    def reset(self, seed=None, options=None, new_task=None):
        super().reset(seed=seed, options=options, new_task=new_task)
        self.agents = list(self.possible_agents)
        self._lives = {agent: self.lifetime(agent) for agent in self.agents}
        self._t = 0
        return {a: np.zeros(1, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self._t += 1
        obs, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            if agent not in self.agents:
                continue
            obs[agent] = np.zeros(1, np.float32)
            rewards[agent] = ((int(self.task or 0) + 3 * i + self._t) % 8) / 8
            done = self._t >= self._lives[agent]
            terminations[agent], truncations[agent] = done, False
            infos[agent] = {"task_completion": self._t / self._lives[agent]}
        self.agents = [a for a in self.agents if not terminations[a]]
        return obs, rewards, terminations, truncations, infos


class AgentRollouts:
    """What the learner saw, per env index and agent: finished episodes and the tasks delivered."""

    def __init__(self, num_envs: int) -> None:
        self.episodes: dict[tuple[int, str], list[AgentEpisode]] = defaultdict(list)
        self.delivered: list[int] = []
        self._task = [0] * num_envs
        self._returns: list[dict[str, float]] = [{} for _ in range(num_envs)]
        self._length = [0] * num_envs
        self.finished = [0] * num_envs

    def start(self, i: int, infos: dict[str, dict]) -> None:
        (task,) = {info["task"] for info in infos.values()}
        self._task[i] = int(task)
        self._returns[i] = dict.fromkeys(infos, 0.0)
        self._length[i] = 0
        self.delivered.append(int(task))

    def step(self, i: int, rewards: dict[str, float], done: bool) -> None:
        self._length[i] += 1
        for agent, reward in rewards.items():
            self._returns[i][agent] += float(reward)
        if done:
            for agent, ret in self._returns[i].items():
                self.episodes[(i, agent)].append((self._task[i], ret, self._length[i]))
            self.finished[i] += 1


def all_done(terminations: dict, truncations: dict) -> bool:
    return all(terminations[a] or truncations[a] for a in terminations)


def run_parallel(envs: list[Any], episodes: int) -> AgentRollouts:
    """Steps every env in turn until each finished ``episodes`` episodes; resets after each one."""
    rollouts = AgentRollouts(len(envs))
    for i, env in enumerate(envs):
        rollouts.start(i, env.reset(seed=i)[1])
    while min(rollouts.finished) < episodes:
        for i, env in enumerate(envs):
            actions = {agent: 0 for agent in env.agents}
            _, rewards, terminations, truncations, _ = env.step(actions)
            done = all_done(terminations, truncations)
            rollouts.step(i, rewards, done)
            if done:
                rollouts.start(i, env.reset()[1])
    return rollouts


def lanes_of(rollouts: AgentRollouts, agents: list[str] = AGENTS) -> dict[int, list[AgentEpisode]]:
    """The learner's episodes keyed as MultiagentSharedCurriculumWrapper reports them (env * agents + agent)."""
    return {i * len(agents) + agents.index(agent): eps for (i, agent), eps in rollouts.episodes.items()}


def make_counting_parallel_env(task_queue, update_queue, env_id: int | None = None) -> PettingZooSyncWrapper:
    """Env factory: a synced :class:`CountingParallelEnv`."""
    return PettingZooSyncWrapper(CountingParallelEnv(), task_queue, update_queue, env_id=env_id)


def pettingzoo_process_worker(task_queue, update_queue, env_id: int, episodes: int, results) -> None:
    """Target of ``multiprocessing.Process`` workers: runs episodes on a synced env, reports what it saw."""
    env = make_counting_parallel_env(task_queue, update_queue, env_id=env_id)
    try:
        rollouts = run_parallel([env], episodes)
    finally:
        env.close()
    results.put((env_id, {agent: eps for (_, agent), eps in rollouts.episodes.items()}, rollouts.delivered))


def run_ray_pettingzoo_env(env_id: int, episodes: int, **kwargs: Any) -> tuple[int, dict, list[int]]:
    """Body of a Ray task: runs ``episodes`` episodes of a RayPettingZooSyncWrapper env, reports what it saw."""
    from syllabus.core import RayPettingZooSyncWrapper

    env = RayPettingZooSyncWrapper(CountingParallelEnv(), env_id=env_id, **kwargs)
    try:
        rollouts = run_parallel([env], episodes)
    finally:
        env.close()  # sends what the env still holds and waits until the curriculum applied it
    return env_id, {agent: eps for (_, agent), eps in rollouts.episodes.items()}, rollouts.delivered


def make_stacked_counting_env(task_queue, update_queue) -> Any:
    """Env factory of SB3 vector envs: a synced CountingParallelEnv with its agents stacked."""
    from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv

    return StackedAgentsEnv(PettingZooSyncWrapper(CountingParallelEnv(), task_queue, update_queue))
