"""The task interface: TaskWrapper, TaskEnv, ReinitTaskWrapper and check_task_interface."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from syllabus.core import ReinitTaskWrapper, TaskEnv, TaskInterfaceError, TaskWrapper
from syllabus.core.task_interface import check_task_interface, task_reset
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace, TaskSpaceError


# --------------------------------------------------------------------------- helpers
class ConstantObsEnv(gym.Env):
    """Observes a fixed value; used under wrappers. Counts resets and records closing."""

    def __init__(self, value: float = 0.0, obs_size: int = 1) -> None:
        self.value = value
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_size,), np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.resets = 0
        self.closed = False

    def _obs(self) -> np.ndarray:
        return np.full(self.observation_space.shape, self.value)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.resets += 1
        return self._obs(), {}

    def step(self, action):
        return self._obs(), 1.0, True, False, {}

    def close(self) -> None:
        self.closed = True


class ScaleWrapper(TaskWrapper):
    """A TaskWrapper whose task is the value the inner env observes; records change_task calls."""

    def __init__(self, env: ConstantObsEnv, task_space) -> None:
        super().__init__(env, task_space)
        self.changes: list[Any] = []

    def change_task(self, new_task: Any) -> None:
        self.changes.append(new_task)
        self.env.unwrapped.value = new_task


class TargetEnv(TaskEnv):
    """A tiny TaskEnv: observes its task plus noise from its own seeded generator."""

    def __init__(self) -> None:
        super().__init__(DiscreteTaskSpace([1, 2, 3]))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self._task = 1

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, options=options, new_task=new_task)
        return np.array([float(self.task), self.np_random.random()]), {"task": self.task}

    def step(self, action):
        return np.array([float(self.task), self.np_random.random()]), 0.0, True, False, {}


class DuckTaskEnv(gym.Env):
    """Implements the task interface without any syllabus base class."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.task_space = DiscreteTaskSpace(3)
        self.task = 0

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed)
        if new_task is not None:
            self.task = new_task
        return self.task, {}

    def step(self, action):
        return self.task, 0.0, True, False, {}


# ------------------------------------------------------------------ TaskWrapper
def test_task_wrapper_switches_on_new_task_and_keeps_it_otherwise():
    env = ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([5, 7, 9]))
    assert env.task is None

    obs, _ = env.reset(new_task=7)
    assert env.task == 7
    assert obs[0] == 7

    obs, _ = env.reset()
    assert env.task == 7
    assert obs[0] == 7
    obs, *_ = env.step(0)
    assert obs[0] == 7

    obs, _ = env.reset(new_task=9, seed=3)
    assert env.task == 9
    assert obs[0] == 9
    assert env.changes == [7, 9]
    assert env.env.unwrapped.resets == 3


def test_task_wrapper_change_task_is_called_before_the_inner_reset():
    seen_at_reset = []

    class Inner(ConstantObsEnv):
        def reset(self, *, seed=None, options=None):
            seen_at_reset.append(self.value)
            return super().reset(seed=seed, options=options)

    env = ScaleWrapper(Inner(), DiscreteTaskSpace([5, 7]))
    env.reset(new_task=5)
    env.reset(new_task=7)
    assert seen_at_reset == [5, 7]


def test_task_wrapper_rejects_task_outside_space_and_keeps_current_task():
    env = ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([5, 7]))
    env.reset(new_task=5)
    resets = env.env.unwrapped.resets

    with pytest.raises(TaskSpaceError, match="not in"):
        env.reset(new_task=6)

    assert env.task == 5
    assert env.changes == [5]  # the hook never saw the bad task
    assert env.env.unwrapped.resets == resets  # and the env was not reset
    obs, _ = env.reset()
    assert obs[0] == 5


def test_task_wrapper_box_space():
    env = ScaleWrapper(ConstantObsEnv(), BoxTaskSpace(0.0, 1.0, shape=()))
    obs, _ = env.reset(new_task=0.25)
    assert env.task == 0.25
    assert obs[0] == 0.25
    with pytest.raises(TaskSpaceError):
        env.reset(new_task=1.5)
    assert env.task == 0.25


# ---------------------------------------------------------------------- TaskEnv
def test_task_env_switches_and_keeps_task():
    env = TargetEnv()
    obs, info = env.reset()
    assert env.task == 1 and obs[0] == 1.0 and info["task"] == 1

    obs, info = env.reset(new_task=3)
    assert env.task == 3 and obs[0] == 3.0 and info["task"] == 3
    obs, *_ = env.step(0)
    assert obs[0] == 3.0

    env.reset()
    assert env.task == 3

    with pytest.raises(TaskSpaceError):
        env.reset(new_task=4)
    assert env.task == 3


def test_task_env_seeds_its_generator():
    a, b = TargetEnv(), TargetEnv()
    obs_a, _ = a.reset(seed=11, new_task=2)
    obs_b, _ = b.reset(seed=11)
    assert obs_a[1] == obs_b[1]  # same seed, same noise, whatever the task
    assert a.task == 2 and b.task == 1
    assert a.step(0)[0][1] == b.step(0)[0][1]

    obs_c, _ = TargetEnv().reset(seed=12)
    assert obs_c[1] != obs_a[1]


# ------------------------------------------------------------ ReinitTaskWrapper
class EnvFactory:
    """Builds a ConstantObsEnv per task and remembers what it built."""

    def __init__(self, obs_size_of=lambda task: 1) -> None:
        self.built: list[tuple[Any, ConstantObsEnv]] = []
        self.obs_size_of = obs_size_of

    def __call__(self, task: Any) -> ConstantObsEnv:
        env = ConstantObsEnv(value=float(task), obs_size=self.obs_size_of(task))
        self.built.append((task, env))
        return env


def test_reinit_wrapper_defaults_to_first_task_of_enumerable_space():
    factory = EnvFactory()
    env = ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8, 15]))
    assert env.task == 4
    assert [task for task, _ in factory.built] == [4]
    obs, _ = env.reset()
    assert obs[0] == 4.0


def test_reinit_wrapper_defaults_to_a_sample_of_a_box_space():
    space = BoxTaskSpace(2.0, 3.0, shape=())
    env = ReinitTaskWrapper(EnvFactory(), space)
    assert space.contains(env.task)


def test_reinit_wrapper_explicit_first_task_and_bad_first_task():
    factory = EnvFactory()
    env = ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8]), task=8)
    assert env.task == 8
    assert env.reset()[0][0] == 8.0
    with pytest.raises(TaskSpaceError):
        ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8]), task=5)


def test_reinit_wrapper_builds_a_new_env_per_task_and_closes_the_old_one():
    factory = EnvFactory()
    env = ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8, 15]))
    first = env.env

    obs, _ = env.reset(new_task=15)
    assert env.task == 15
    assert obs[0] == 15.0
    assert [task for task, _ in factory.built] == [4, 15]
    assert first.closed
    assert env.env is factory.built[-1][1] and not env.env.closed

    # a reset without a task keeps the current env
    current = env.env
    env.reset()
    assert env.env is current and [task for task, _ in factory.built] == [4, 15]

    env.reset(new_task=8)
    assert current.closed
    assert env.step(0)[0][0] == 8.0


def test_reinit_wrapper_rejects_factory_with_other_spaces():
    factory = EnvFactory(obs_size_of=lambda task: 2 if task == 15 else 1)
    env = ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8, 15]))
    original = env.env

    with pytest.raises(ValueError, match="other spaces"):
        env.reset(new_task=15)

    rejected = factory.built[-1][1]
    assert rejected.closed  # the mismatched env is not leaked
    assert env.env is original and not original.closed
    assert env.task == 4
    assert env.reset()[0][0] == 4.0


def test_reinit_wrapper_rejects_task_outside_space():
    factory = EnvFactory()
    env = ReinitTaskWrapper(factory, DiscreteTaskSpace([4, 8]))
    with pytest.raises(TaskSpaceError):
        env.reset(new_task=5)
    assert env.task == 4
    assert len(factory.built) == 1


# --------------------------------------------------------- check_task_interface
@pytest.mark.parametrize(
    "make_env",
    [
        lambda: ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([1, 2])),
        lambda: ReinitTaskWrapper(EnvFactory(), DiscreteTaskSpace([1, 2])),
        TargetEnv,
        DuckTaskEnv,
    ],
    ids=["TaskWrapper", "ReinitTaskWrapper", "TaskEnv", "duck-typed"],
)
def test_check_task_interface_accepts_task_envs(make_env):
    check_task_interface(make_env())


def test_check_task_interface_refuses_plain_gym_env():
    env = gym.make("CartPole-v1")
    try:
        with pytest.raises(TaskInterfaceError, match="new_task") as excinfo:
            check_task_interface(env)
    finally:
        env.close()
    message = str(excinfo.value)
    assert "TaskWrapper" in message and "TaskEnv" in message
    assert isinstance(excinfo.value, TypeError)


def test_task_reaches_a_task_wrapper_under_gymnasium_wrappers_as_an_option():
    scaled_env = ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([1, 2]))
    env = gym.wrappers.RecordEpisodeStatistics(
        gym.wrappers.TransformObservation(scaled_env, lambda o: o * 10, None)
    )
    check_task_interface(env)
    reset = task_reset(env)
    obs, _ = reset(2, 0, {"other": 1})
    assert scaled_env.task == 2 and scaled_env.changes == [2] and obs[0] == 20


@pytest.mark.parametrize(
    "make_env",
    [lambda: ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([1, 2])), TargetEnv],
    ids=["TaskWrapper", "TaskEnv"],
)
def test_task_envs_take_the_task_as_new_task_or_as_options(make_env):
    env = make_env()
    env.reset(options={"task": 2})
    assert env.task == 2
    env.reset(new_task=1)
    assert env.task == 1
    with pytest.raises(TaskInterfaceError, match="twice"):
        env.reset(new_task=1, options={"task": 2})


def test_a_wrapper_that_drops_options_is_caught_at_reset():
    class DropsOptions(gym.Wrapper):
        def reset(self, *, seed=None, options=None):
            return self.env.reset(seed=seed)

    scaled_env = ScaleWrapper(ConstantObsEnv(), DiscreteTaskSpace([1, 2]))
    reset = task_reset(DropsOptions(scaled_env))
    with pytest.raises(TaskInterfaceError, match="did not pass reset"):
        reset(2, None, None)


def test_check_task_interface_refuses_gymnasium_wrappers_over_a_plain_env():
    env = gym.wrappers.RecordEpisodeStatistics(ConstantObsEnv())
    with pytest.raises(TaskInterfaceError, match="no TaskEnv or TaskWrapper"):
        check_task_interface(env)
