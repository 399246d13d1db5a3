"""Environments, curricula and rollout loops shared by the synchronization tests.

Kept in an importable module so that env factories pickle by reference under spawn and forkserver.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import gymnasium as gym
import numpy as np

from syllabus.core import Curriculum, MultiProcessingSyncWrapper, TaskEnv
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace

TASK_SPACE = DiscreteTaskSpace(10**6)
Episode = tuple[int, float, int]  # (task, return, length)


class CountingEnv(TaskEnv):
    """Episodes of ``3 + task % 5`` steps with rewards in multiples of 1/8 (exact in float32 sums)."""

    def __init__(self, task_space: DiscreteTaskSpace = TASK_SPACE) -> None:
        super().__init__(task_space)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._steps_left = 0

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, new_task=new_task)
        self._steps_left = 3 + int(self.task or 0) % 5
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self._steps_left -= 1
        reward = float(self.np_random.integers(0, 8)) / 8
        done = self._steps_left == 0
        return np.zeros(1, np.float32), reward, done, False, {"task_completion": 1.0 if done else 0.0}


class ExplodingEnv(CountingEnv):
    """A CountingEnv whose third step raises."""

    def __init__(self, task_space: DiscreteTaskSpace = TASK_SPACE) -> None:
        super().__init__(task_space)
        self._steps = 0

    def step(self, action):
        self._steps += 1
        if self._steps == 3:
            raise ValueError("env exploded on purpose")
        return super().step(action)


def exploding_factory() -> gym.Env:
    """An env factory that raises."""
    raise RuntimeError("factory exploded on purpose")


class RecordingCurriculum(Curriculum):
    """Samples consecutive integers (so every task is unique) and records every update it gets."""

    def __init__(
        self,
        step_updates: bool = False,
        fail_on_sample: bool = False,
        out_of_space: bool = False,
        fail_on_episode: bool = False,
        short_sample: bool = False,
        journal: str | None = None,
    ) -> None:
        super().__init__(TASK_SPACE)
        self.step_updates = step_updates
        self.fail_on_sample = fail_on_sample
        self.out_of_space = out_of_space
        self.fail_on_episode = fail_on_episode
        self.short_sample = short_sample
        self.journal = journal  # a file that gets one line per episode update, readable after close
        self.sampled: list[int] = []
        self.episodes: dict[int, list[Episode]] = defaultdict(list)
        self.steps: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self.custom: list[Any] = []

    @property
    def requires_step_updates(self) -> bool:
        return self.step_updates

    def sample(self, k: int = 1) -> list[int]:
        if self.fail_on_sample:
            raise RuntimeError("sample exploded on purpose")
        if self.out_of_space:
            return [-1] * k
        if self.short_sample:
            return []
        tasks = list(range(len(self.sampled), len(self.sampled) + k))
        self.sampled.extend(tasks)
        return tasks

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None) -> None:
        if self.fail_on_episode:
            raise RuntimeError("update_on_episode exploded on purpose")
        self.episodes[env_id].append((task, episode_return, length))
        if self.journal is not None:
            with open(self.journal, "a") as f:
                f.write(f"{env_id} {task} {episode_return} {length}\n")

    def update_on_step(
        self, task, obs, reward, terminated, truncated, info, progress=None, env_id=None
    ) -> None:
        self.steps[env_id].append((task, float(reward)))

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        self.custom.append((args, kwargs))

    def echo(self, value: Any) -> Any:
        return value


def read_journal(path: str) -> dict[int, list[Episode]]:
    """The episodes a :class:`RecordingCurriculum` with ``journal=path`` received, per env id."""
    episodes: dict[int, list[Episode]] = defaultdict(list)
    with open(path) as f:
        for line in f:
            env_id, task, episode_return, length = line.split()
            episodes[int(env_id)].append((int(task), float(episode_return), int(length)))
    return dict(episodes)


class RecordingDomainRandomization(DomainRandomization):
    """Domain Randomization that keeps every episode update it receives."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.updates: list[tuple] = []

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None) -> None:
        self.updates.append((task, episode_return, length, progress))
        super().update_on_episode(episode_return, length, task, progress, env_id=env_id)


def make_counting_env(
    task_queue, update_queue, env_id: int | None = None, **kwargs: Any
) -> MultiProcessingSyncWrapper:
    """Env factory for vector envs: a synced :class:`CountingEnv`."""
    return MultiProcessingSyncWrapper(CountingEnv(), task_queue, update_queue, env_id=env_id, **kwargs)


class Rollouts:
    """What the learner saw: per env index, finished episodes and the tasks delivered to it."""

    def __init__(self, num_envs: int) -> None:
        self.episodes: dict[int, list[Episode]] = {i: [] for i in range(num_envs)}
        self.delivered: list[int] = []
        self._task = [0] * num_envs
        self._return = [0.0] * num_envs
        self._length = [0] * num_envs

    def start(self, i: int, task: Any) -> None:
        self._task[i] = int(task)
        self._return[i], self._length[i] = 0.0, 0
        self.delivered.append(int(task))

    def step(self, i: int, reward: float, done: bool) -> None:
        self._return[i] += float(reward)
        self._length[i] += 1
        if done:
            self.episodes[i].append((self._task[i], self._return[i], self._length[i]))

    def min_episodes(self) -> int:
        return min(len(e) for e in self.episodes.values())


def run_gymnasium_vector(venv: gym.vector.VectorEnv, episodes: int) -> Rollouts:
    """Steps a gymnasium vector env (autoreset on the next step) until every env finished ``episodes``."""
    rollouts = Rollouts(venv.num_envs)
    _, info = venv.reset(seed=0)
    for i in range(venv.num_envs):
        rollouts.start(i, info["task"][i])
    autoreset = np.zeros(venv.num_envs, bool)
    while rollouts.min_episodes() < episodes:
        _, rewards, terminated, truncated, info = venv.step(venv.action_space.sample())
        for i in range(venv.num_envs):
            if autoreset[i]:
                assert info["_task"][i], "an autoreset step must carry the new task in its info"
                rollouts.start(i, info["task"][i])
            else:
                rollouts.step(i, rewards[i], terminated[i] or truncated[i])
        autoreset = terminated | truncated
    return rollouts


def run_sb3_vector(venv: Any, episodes: int) -> Rollouts:
    """Steps an SB3 VecEnv (reset within the step) until every env finished ``episodes``."""
    rollouts = Rollouts(venv.num_envs)
    venv.reset()
    for i in range(venv.num_envs):
        rollouts.start(i, venv.reset_infos[i]["task"])
    while rollouts.min_episodes() < episodes:
        _, rewards, dones, _ = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
        for i in range(venv.num_envs):
            rollouts.step(i, rewards[i], dones[i])
            if dones[i]:
                rollouts.start(i, venv.reset_infos[i]["task"])
    return rollouts


def run_episodes(env: gym.Env, episodes: int) -> tuple[list[Episode], list[int]]:
    """Runs ``episodes`` episodes on one env; returns them and the tasks it was given."""
    rollouts = Rollouts(1)
    for _ in range(episodes):
        _, info = env.reset()
        rollouts.start(0, info["task"])
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
            rollouts.step(0, reward, done)
    return rollouts.episodes[0], rollouts.delivered


def process_worker(task_queue, update_queue, env_id: int, episodes: int, results) -> None:
    """Target of hand-written ``multiprocessing.Process`` workers: runs episodes, reports what it saw."""
    env = make_counting_env(task_queue, update_queue, env_id=env_id)
    try:
        observed, delivered = run_episodes(env, episodes)
    finally:
        env.close()
    results.put((env_id, observed, delivered))


def check_exactly_once(curriculum: RecordingCurriculum, rollouts: Rollouts, step_updates: bool) -> None:
    """Asserts the curriculum got every episode once, as the learner saw it, and only sampled tasks ran."""
    assert dict(curriculum.episodes) == rollouts.episodes
    assert len(set(rollouts.delivered)) == len(rollouts.delivered), "a task was delivered twice"
    assert set(rollouts.delivered) <= set(curriculum.sampled), "a delivered task was never sampled"
    if step_updates:
        for i, episodes in curriculum.episodes.items():
            per_task: dict[int, float] = defaultdict(float)
            for task, reward in curriculum.steps[i]:
                per_task[task] += reward
            for task, episode_return, _ in episodes:
                assert per_task[task] == episode_return
    else:
        assert not curriculum.steps
