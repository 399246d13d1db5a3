"""GuardedSubprocVecEnv's worker answers every SB3 ``VecEnv`` call as SB3's own ``SubprocVecEnv`` does,
and its processes import neither SB3 nor torch.

Stable-Baselines3 is imported inside the tests only: under spawn a worker imports this module to find
its env, and must not find torch here.
"""

from __future__ import annotations

import sys
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from timeouts import scaled

HEAVY = ("stable_baselines3", "torch")


class Counter(gym.Env):
    """Counts its steps; ends at ``length`` (terminated) unless a TimeLimit truncates it first."""

    observation_space = gym.spaces.Box(0, 100, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, length: int = 3) -> None:
        self.length = length
        self.render_mode = "rgb_array"
        self.count = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.count = int(self.np_random.integers(10)) if options is None else options["start"]
        return np.array([self.count], np.float32), {"start": self.count}

    def step(self, action):
        self.count += 1
        return np.array([self.count], np.float32), float(action), self.count % self.length == 0, False, {}

    def render(self):
        return np.full((2, 2, 3), self.count, np.uint8)

    def scaled_count(self, factor: int, offset: int = 0) -> int:
        return self.count * factor + offset

    def loaded_heavy_modules(self) -> list[str]:
        return [name for name in HEAVY if name in sys.modules]


def make_counter(length: int, limit: int) -> gym.Env:
    return gym.wrappers.TimeLimit(Counter(length), max_episode_steps=limit)


def make_monitored_counter() -> gym.Env:
    from stable_baselines3.common.monitor import Monitor

    return Monitor(make_counter(3, 10))


def drive(venv) -> list:
    """Every SB3 VecEnv call once or more; returns what each returned."""
    from gymnasium.wrappers import RecordEpisodeStatistics, TimeLimit

    seen = []
    venv.seed(7)
    seen.append(venv.reset())
    seen.append(venv.reset_infos)
    for step in range(6):  # episodes end terminated, truncated by a TimeLimit, and both at once
        seen.append(venv.step(np.array([step % 2, 1, 0])))
        seen.append(venv.reset_infos)
    venv.set_options({"start": 40})
    seen.append(venv.reset())
    seen.append(venv.env_method("scaled_count", 2, offset=1))
    seen.append(venv.env_method("scaled_count", 3, indices=[1]))
    seen.append(venv.get_attr("length"))
    venv.set_attr("length", 9, indices=[0])
    seen.append(venv.get_attr("length"))
    seen.append(venv.has_attr("scaled_count"))
    seen.append(venv.has_attr("no_such_attribute"))
    seen.append(venv.env_is_wrapped(TimeLimit))
    seen.append(venv.env_is_wrapped(RecordEpisodeStatistics))
    seen.append(venv.get_images())
    return seen


def assert_same(ours, theirs, path="") -> None:
    assert type(ours) is type(theirs), f"{path}: {type(ours)} != {type(theirs)}"
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), path
        for key in ours:
            assert_same(ours[key], theirs[key], f"{path}[{key!r}]")
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(ours, np.ndarray):
        np.testing.assert_array_equal(ours, theirs, err_msg=path)
        assert ours.dtype == theirs.dtype, path
    else:
        assert ours == theirs, path


@pytest.mark.timeout(120)
def test_every_vec_env_call_answers_as_sb3s_subproc_vec_env():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

    fns = [partial(make_counter, 3, 10), partial(make_counter, 10, 2), partial(make_counter, 1, 1)]
    theirs = SubprocVecEnv(fns, "fork")
    try:
        expected = drive(theirs)
    finally:
        theirs.close()
    ours = GuardedSubprocVecEnv(fns, "fork", timeout=scaled(30))
    try:
        seen = drive(ours)
    finally:
        ours.close()
    assert any("terminal_observation" in info for step in expected[2:14:2] for info in step[3])
    assert_same(seen, expected)


@pytest.mark.timeout(120)
def test_env_is_wrapped_finds_sb3s_monitor():
    from stable_baselines3.common.monitor import Monitor

    from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

    venv = GuardedSubprocVecEnv(
        [make_monitored_counter, partial(make_counter, 3, 10)], "fork", timeout=scaled(30)
    )
    try:
        assert venv.env_is_wrapped(Monitor) == [True, False]
        assert venv.env_is_wrapped(gym.Wrapper) == [True, True]  # a base class counts, as in isinstance
    finally:
        venv.close()


@pytest.mark.timeout(180)
def test_env_workers_import_neither_sb3_nor_torch():
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecMonitor

    from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

    venv = GuardedSubprocVecEnv([partial(make_counter, 3, 10)] * 2, "spawn", timeout=scaled(60))
    try:
        VecMonitor(venv)  # asks every worker whether its env is wrapped in SB3's Monitor
        assert venv.env_is_wrapped(Monitor) == [False, False]
        venv.reset()
        venv.step(np.array([0, 1]))
        assert venv.env_method("loaded_heavy_modules") == [[], []]
    finally:
        venv.close()


@pytest.mark.timeout(120)
def test_an_unknown_command_is_reported_with_the_worker_traceback():
    from syllabus.core.errors import EnvWorkerError
    from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

    venv = GuardedSubprocVecEnv([partial(make_counter, 3, 10)], "fork", timeout=scaled(30))
    try:
        venv.remotes[0].send(("no_such_command", None))
        with pytest.raises(EnvWorkerError, match="env 0 raised NotImplementedError .*'no_such_command'"):
            venv.remotes[0].recv()
    finally:
        venv.close()
