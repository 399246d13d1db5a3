"""MiniGridTaskEnv: tasks are MiniGrid env ids, or layout seeds of one env id."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from sync_fixtures import RecordingDomainRandomization

from syllabus.core import MultiProcessingSyncWrapper, make_multiprocessing_curriculum
from syllabus.core.task_interface import check_task_interface
from syllabus.envs.minigrid import DEFAULT_ENV_IDS, MiniGridTaskEnv, make_minigrid
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError

FORWARD, RIGHT = 2, 1
# ids whose missions differ, so the mission tells which one is playing
MISSIONS = {
    "MiniGrid-Empty-5x5-v0": "get to the green goal square",
    "MiniGrid-DoorKey-5x5-v0": "use the key to open the door and then get to the goal",
    "MiniGrid-LavaGapS5-v0": "avoid the lava and get to the green goal square",
}
IDS = list(MISSIONS)


@pytest.fixture
def env():
    env = make_minigrid(IDS)
    yield env
    env.close()


def layout(env: MiniGridTaskEnv) -> np.ndarray:
    """The full grid of the current episode."""
    return env.minigrid_env.unwrapped.grid.encode()


def test_spaces_and_task_interface(env):
    check_task_interface(env)
    assert env.task_space == DiscreteTaskSpace(IDS)
    assert env.task == IDS[0]
    assert env.observation_space == gym.spaces.Box(0, 255, (147,), np.uint8)
    assert env.action_space == gym.spaces.Discrete(7)
    for task in IDS:
        obs, info = env.reset(new_task=task)
        assert env.observation_space.contains(obs)
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)


def test_default_tasks_share_spaces():
    env = make_minigrid()
    try:
        assert env.task_space.tasks == list(DEFAULT_ENV_IDS)
        for task in DEFAULT_ENV_IDS:
            assert env.observation_space.contains(env.reset(new_task=task)[0])
    finally:
        env.close()


def test_switching_plays_the_requested_env_and_reuses_it(env):
    built = {}
    for task in IDS + IDS[::-1]:
        obs, info = env.reset(new_task=task)
        assert env.task == task and info["mission"] == MISSIONS[task]
        assert env.minigrid_env.spec.id == task
        assert built.setdefault(task, env.minigrid_env) is env.minigrid_env  # one cached env per id
        *_, info = env.step(FORWARD)
        assert info["mission"] == MISSIONS[task]


def test_reset_without_a_task_draws_the_task_uniformly(env):
    env.reset(seed=0)
    ids = [env.task]
    for _ in range(299):
        _, info = env.reset()
        assert env.minigrid_env.spec.id == env.task and info["mission"] == MISSIONS[env.task]
        ids.append(env.task)
    counts = [ids.count(task) for task in IDS]
    assert min(counts) >= 70 and max(counts) <= 130  # expected 100 each


def test_reset_without_a_task_draws_seed_tasks_uniformly_and_follows_the_seed():
    env = make_minigrid(env_id="MiniGrid-DoorKey-5x5-v0", seeds=[10, 11, 12, 13])
    try:

        def drawn(seed: int) -> list[int]:
            env.reset(seed=seed)
            return [env.task] + [env.reset()[1] and env.task for _ in range(199)]

        tasks = drawn(1)
        assert tasks == drawn(1) and tasks != drawn(2)
        assert {tasks.count(task) for task in (10, 11, 12, 13)} <= set(range(30, 71))  # expected 50 each
        grid = layout(env)
        env.reset(new_task=env.task)
        np.testing.assert_array_equal(layout(env), grid)  # the drawn seed fixes the layout as a task does
    finally:
        env.close()


def test_env_id_tasks_are_seeded_by_reset(env):
    def episode_starts(seed):
        first = env.reset(seed=seed, new_task=IDS[1])[0]
        return [first] + [env.reset(new_task=task)[0] for task in IDS * 2]

    np.testing.assert_array_equal(episode_starts(3), episode_starts(3))
    layouts = []
    for _ in range(10):
        env.reset(new_task=IDS[1])
        layouts.append(layout(env))
    assert any(not np.array_equal(layouts[0], other) for other in layouts[1:])  # layouts vary by episode


def test_seed_tasks_fix_the_layout():
    env = make_minigrid(env_id="MiniGrid-DoorKey-8x8-v0", seeds=20)
    try:
        assert env.task_space == DiscreteTaskSpace(20)
        layouts = {}
        for seed in (3, 4, 3, 5, 4):
            obs, _ = env.reset(new_task=seed)
            grid = layout(env)
            if seed in layouts:
                np.testing.assert_array_equal(grid, layouts[seed][0])
                np.testing.assert_array_equal(obs, layouts[seed][1])
            layouts[seed] = (grid, obs)
        assert not np.array_equal(layouts[3][0], layouts[4][0])
        with pytest.raises(TaskSpaceError):
            env.reset(new_task=20)
    finally:
        env.close()


def test_task_completion_is_success():
    env = make_minigrid(IDS, max_steps=6)
    try:
        env.reset(new_task="MiniGrid-Empty-5x5-v0")  # agent at (1, 1) facing right, goal at (3, 3)
        for action in (FORWARD, FORWARD, RIGHT, FORWARD):
            *_, terminated, truncated, info = env.step(action)
            assert not (terminated or truncated) and "task_completion" not in info
        _, reward, terminated, truncated, info = env.step(FORWARD)
        assert terminated and reward > 0 and info["task_completion"] == 1.0

        env.reset(new_task="MiniGrid-Empty-5x5-v0")
        for _ in range(6):  # turning in place until max_steps
            _, _, terminated, truncated, info = env.step(RIGHT)
        assert truncated and not terminated and info["task_completion"] == 0.0
    finally:
        env.close()


def test_failure_in_lava_is_no_completion():
    env = make_minigrid(env_id="MiniGrid-LavaGapS5-v0", seeds=range(10))
    try:
        for seed in env.task_space.tasks:
            env.reset(new_task=seed)
            unwrapped = env.minigrid_env.unwrapped
            ahead = unwrapped.grid.get(*unwrapped.front_pos)
            if ahead is not None and ahead.type == "lava":
                _, reward, terminated, _, info = env.step(FORWARD)
                assert terminated and reward == 0 and info["task_completion"] == 0.0
                return
        pytest.fail("no seed in 0..9 puts lava right in front of the agent")
    finally:
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"env_ids": ["MiniGrid-Empty-5x5-v1"]}, ValueError, "Did you mean MiniGrid-Empty-5x5-v0"),
        (
            {"env_ids": ["CartPole-v1"]},
            ValueError,
            "unknown MiniGrid env id 'CartPole-v1'.*Valid ids: BabyAI",
        ),
        ({"env_ids": "MiniGrid-Empty-5x5-v0"}, ValueError, "non-empty list"),
        ({"env_ids": []}, ValueError, "non-empty list"),
        ({"env_ids": IDS[:1] * 2}, ValueError, "distinct"),
        ({"env_id": "MiniGrid-Empty-5x5-v0"}, ValueError, "needs seeds"),
        (
            {"env_id": "MiniGrid-Nope-v0", "seeds": 3},
            ValueError,
            "unknown MiniGrid env id 'MiniGrid-Nope-v0'",
        ),
        ({"env_ids": IDS, "seeds": 3}, ValueError, "not both"),
        ({"seeds": 3}, ValueError, "single env_id"),
        ({"env_id": IDS[0], "seeds": 0}, ValueError, "seeds must be an integer >= 1"),
        ({"env_id": IDS[0], "seeds": [1, -2]}, ValueError, r"ints in \[0, 2147483647\), got \[-2\]"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_minigrid(**kwargs)


def test_bad_task_keeps_the_current_one(env):
    env.reset(new_task=IDS[2])
    for bad in ("MiniGrid-Empty-8x8-v0", 0, 1.5):
        with pytest.raises(TaskSpaceError):
            env.reset(new_task=bad)
    assert env.task == IDS[2]


def make_synced_minigrid(task_queue, update_queue):
    return MultiProcessingSyncWrapper(make_minigrid(IDS, max_steps=20), task_queue, update_queue)


@pytest.mark.timeout(60)
def test_domain_randomization_behind_multiprocessing_sync():
    inner = RecordingDomainRandomization(DiscreteTaskSpace(IDS), record_stats=True)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(inner)
    episodes = 0
    with curriculum:
        venv = gym.vector.AsyncVectorEnv([partial(make_synced_minigrid, task_queue, update_queue)] * 2)
        try:
            _, info = venv.reset(seed=0)
            current = list(info["task"])
            rng = np.random.default_rng(0)
            while episodes < 20:
                _, _, terminated, truncated, info = venv.step(rng.integers(7, size=2))
                if "task" in info:  # autoreset of an env whose episode ended at the previous step
                    for i in np.flatnonzero(info["_task"]):
                        current[i] = info["task"][i]
                assert list(info["mission"]) == [MISSIONS[task] for task in current]
                episodes += int(np.sum(terminated | truncated))
        finally:
            venv.close()
    assert inner.stat_recorder.episodes == episodes == len(inner.updates)
    assert {task for task, *_ in inner.updates} == set(IDS)
    for _, _, length, progress in inner.updates:
        assert 0 < length <= 20 and progress in (0.0, 1.0)
