"""CartPoleTaskWrapper: the task is the half-width of CartPole's initial-state range."""

from __future__ import annotations

import numpy as np
import pytest

from syllabus.core.task_interface import check_task_interface
from syllabus.envs.cartpole import CartPoleTaskWrapper, make_cartpole
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace, TaskSpaceError

RESETS = 200


@pytest.fixture
def env():
    env = make_cartpole()
    yield env
    env.close()


def _initial_states(env, task, resets=RESETS, seed=0):
    """Initial observations of ``resets`` resets, the first switching to ``task``."""
    states = [env.reset(seed=seed, new_task=task)[0]]
    states += [env.reset()[0] for _ in range(resets - 1)]
    return np.array(states)


def test_default_task_space_is_box(env):
    assert isinstance(env, CartPoleTaskWrapper)
    assert env.task_space == BoxTaskSpace(0.01, 0.2, shape=())
    assert not env.task_space.is_enumerable
    assert env.task == 0.05  # gymnasium's default range
    check_task_interface(env)


@pytest.mark.parametrize("task", [0.01, 0.05, 0.1, 0.2])
def test_initial_states_lie_within_the_task_range(env, task):
    states = _initial_states(env, task)
    assert env.task == task
    # observations are float32: compare with the task rounded the same way
    assert (np.abs(states) <= np.float32(task)).all()
    # and the states fill the range rather than staying at gymnasium's default +-0.05
    assert np.abs(states).max() > 0.8 * task


def test_range_grows_with_the_task(env):
    spreads = [np.abs(_initial_states(env, task)).mean() for task in (0.01, 0.05, 0.2)]
    assert spreads[0] < spreads[1] < spreads[2]


def test_default_task_is_used_without_new_task(env):
    states = np.array([env.reset(seed=i)[0] for i in range(RESETS)])
    assert (np.abs(states) <= np.float32(0.05)).all()


def test_task_is_kept_until_changed(env):
    env.reset(seed=1, new_task=0.2)
    states = np.array([env.reset()[0] for _ in range(RESETS)])
    assert env.task == 0.2
    assert np.abs(states).max() > 0.1


def test_reset_is_seeded(env):
    first = _initial_states(env, 0.15, resets=5, seed=42)
    second = _initial_states(env, 0.15, resets=5, seed=42)
    np.testing.assert_array_equal(first, second)


def test_caller_options_are_kept_but_task_bounds_win(env):
    obs, _ = env.reset(seed=0, new_task=0.02, options={"low": -1.0, "high": 1.0})
    assert (np.abs(obs) <= np.float32(0.02)).all()


def test_discrete_task_space():
    space = DiscreteTaskSpace([0.05, 0.1, 0.2])
    env = make_cartpole(space)
    try:
        assert env.task_space == space
        for task in space.tasks:
            states = _initial_states(env, task, resets=100)
            assert env.task == task
            assert (np.abs(states) <= np.float32(task)).all()
        with pytest.raises(TaskSpaceError):
            env.reset(new_task=0.15)  # inside the default Box range but not a listed task
        assert env.task == 0.2
        obs, *_ = env.step(env.action_space.sample())
        assert obs.shape == (4,)
    finally:
        env.close()


@pytest.mark.parametrize("bad_task", [0.5, 0.0, -0.1, "easy", np.array([0.1, 0.1])])
def test_bad_task_raises_and_keeps_current_task(env, bad_task):
    env.reset(seed=0, new_task=0.1)
    with pytest.raises(TaskSpaceError):
        env.reset(new_task=bad_task)
    assert env.task == 0.1
    states = np.array([env.reset()[0] for _ in range(50)])
    assert (np.abs(states) <= np.float32(0.1)).all()
