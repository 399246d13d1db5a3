"""Tests of the Stable-Baselines3 integration: PLRCallback feeds PLR the rollouts SB3 collected."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from syllabus.core import MultiProcessingSyncWrapper, TaskEnv, make_multiprocessing_curriculum
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.integrations.sb3 import PLRCallback
from syllabus.task_space import DiscreteTaskSpace

NUM_TASKS = 4


class CountdownEnv(TaskEnv):
    """Episodes of task ``k`` last ``k + 2`` steps and pay 1 at the end; logs ``(task, done)`` per step."""

    def __init__(self) -> None:
        super().__init__(DiscreteTaskSpace(NUM_TASKS))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (NUM_TASKS,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.log: list[tuple[int, bool]] = []
        self._task = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.eye(NUM_TASKS, dtype=np.float32)[self.task]

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, options=options, new_task=new_task)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        done = self._t == self.task + 2
        self.log.append((self.task, done))
        return self._obs(), float(done), done, False, {}


class CyclingTasks(gym.Wrapper):
    """Picks the next task itself at every reset and reports it in ``info["task"]``, like a sync wrapper."""

    def __init__(self, env: gym.Env, first: int, report: bool = True) -> None:
        super().__init__(env)
        self._next = first
        self._report = report

    def reset(self, **kwargs):
        task, self._next = self._next, (self._next + 1) % NUM_TASKS
        obs, info = self.env.reset(new_task=task, **kwargs)
        if self._report:
            info["task"] = task
        return obs, info


class RecordingPLR:
    """Forwards ``custom_update`` to a PLR (like a thread-safe wrapper would) and keeps its arguments."""

    def __init__(self) -> None:
        self.plr = PrioritizedLevelReplay(DiscreteTaskSpace(NUM_TASKS), random_seed=0)
        self.task_space = self.plr.task_space
        self.updates: list[tuple] = []

    def custom_update(self, *args, **kwargs):
        self.updates.append(tuple(np.array(a, copy=True) for a in args))
        self.plr.custom_update(*args, **kwargs)


def _venv(report=True):
    envs = [CountdownEnv() for _ in range(2)]
    venv = VecMonitor(DummyVecEnv([lambda e=e, i=i: CyclingTasks(e, i, report) for i, e in enumerate(envs)]))
    return venv, envs


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_callback_sends_the_rollouts_sb3_collected(algo):
    venv, envs = _venv()
    curriculum = RecordingPLR()
    kwargs = {"batch_size": 16} if algo is PPO else {}
    model = algo("MlpPolicy", venv, n_steps=8, seed=0, device="cpu", **kwargs)
    model.learn(3 * 8 * 2, callback=PLRCallback(curriculum))
    assert len(curriculum.updates) == 3
    tasks, rewards, dones, values, next_values = (
        np.concatenate(parts) for parts in zip(*curriculum.updates, strict=True)
    )
    for i, env in enumerate(envs):
        logged_tasks, logged_dones = (np.array(column) for column in zip(*env.log[: len(tasks)], strict=True))
        np.testing.assert_array_equal(tasks[:, i], logged_tasks)
        np.testing.assert_array_equal(dones[:, i], logged_dones)
        np.testing.assert_array_equal(rewards[:, i], logged_dones.astype(float))
    assert values.shape == (24, 2) and next_values.shape == (6,)
    assert not np.isnan(curriculum.plr.scores).all()


def test_import_of_integrations_does_not_import_sb3():
    code = "import sys, syllabus.integrations; assert 'stable_baselines3' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_envs_must_report_their_task():
    venv, _ = _venv(report=False)
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=16, device="cpu")
    with pytest.raises(KeyError, match="info\\['task'\\]"):
        model.learn(16, callback=PLRCallback(RecordingPLR()))


def test_off_policy_algorithms_are_rejected():
    model = DQN("MlpPolicy", _venv()[0], buffer_size=100, learning_starts=0, device="cpu")
    with pytest.raises(TypeError, match="on-policy"):
        model.learn(4, callback=PLRCallback(RecordingPLR()))


@pytest.mark.timeout(120)
def test_ppo_with_the_multiprocessing_sync_layer_end_to_end():
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(NUM_TASKS), robust=True, random_seed=0)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(plr)
    with curriculum:
        venv = DummyVecEnv([lambda: MultiProcessingSyncWrapper(CountdownEnv(), task_queue, update_queue)] * 2)
        try:
            model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
            model.learn(4 * 16 * 2, callback=PLRCallback(curriculum))
            metadata = [info["task_metadata"] for info in venv.reset_infos]
        finally:
            venv.close()
        assert not np.isnan(curriculum.scores).any()  # every task was played and scored
        assert curriculum.sample_weights().sum() == pytest.approx(1.0)
    assert all(set(meta) == {"replay", "train"} for meta in metadata)
