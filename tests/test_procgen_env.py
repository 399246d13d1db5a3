"""ProcgenTaskEnv: the task is the level seed, switched by restoring cached level start states.

Procgen loads its assets once per process (~2 s), so the in-process tests share one module-scoped env.
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from sync_fixtures import RecordingDomainRandomization

from syllabus.core import MultiProcessingSyncWrapper, make_multiprocessing_curriculum
from syllabus.core.task_interface import check_task_interface
from syllabus.envs.procgen import (
    GAMES,
    ProcgenTaskEnv,
    import_procgen,
    make_procgen,
    make_procgen_eval,
    normalized_return,
)
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError

NOOP = 4  # procgen's action with no key pressed


@pytest.fixture  # per test: tests switch its task, and one checks the initial task
def env():
    env = make_procgen("bigfish", num_levels=20, level_cache_size=4)
    yield env
    env.close()


def reference_rollout(game: str, level: int, actions: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
    """Frames and rewards of ``actions`` in a fresh procgen env built for ``level`` alone."""
    env = import_procgen().ProcgenGym3Env(
        num=1, env_name=game, num_levels=1, start_level=level, distribution_mode="easy", num_threads=0
    )
    try:
        frames, rewards = [env.observe()[1]["rgb"][0]], []
        for action in actions:
            env.act(np.array([action], np.int32))
            reward, obs, first = env.observe()
            rewards.append(float(reward[0]))
            if first[0]:
                break
            frames.append(obs["rgb"][0])
        return frames, rewards
    finally:
        env.close()


def rollout(env: ProcgenTaskEnv, level: int, actions: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
    """The same from ``env.reset(new_task=level)``."""
    obs, info = env.reset(new_task=level)
    assert info["level_seed"] == level
    frames, rewards = [obs], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["level_seed"] == level
        rewards.append(reward)
        if terminated or truncated:
            break
        frames.append(obs)
    return frames, rewards


def test_spaces_and_task_interface(env):
    check_task_interface(env)
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == gym.spaces.Discrete(15)
    assert env.task_space == DiscreteTaskSpace(20)
    obs, info = env.reset(new_task=0)
    assert env.observation_space.contains(obs) and info == {"level_seed": 0}


def test_reset_plays_the_requested_level_deterministically(env):
    actions = np.random.default_rng(0).integers(15, size=120)
    # levels 3, 7, 11 each first built, then restored from the cache (size 4), then 3 again after eviction
    for level in (3, 7, 3, 11, 12, 13, 14, 3, 7):
        frames, rewards = rollout(env, level, actions)
        ref_frames, ref_rewards = reference_rollout("bigfish", level, actions)
        assert len(frames) == len(ref_frames) and rewards == ref_rewards
        assert all(np.array_equal(a, b) for a, b in zip(frames, ref_frames, strict=True))
        assert env.task == level
    first = {level: env.reset(new_task=level)[0] for level in (3, 7)}
    assert not np.array_equal(first[3], first[7])


def test_reset_without_a_task_draws_levels_uniformly(env):
    """Like procgen's own num_levels/start_level: every reset plays a uniformly drawn level."""
    env.reset(seed=0)
    levels = [env.task]
    for _ in range(599):
        obs, info = env.reset()
        assert info == {"level_seed": env.task}
        levels.append(env.task)
    counts = np.bincount(levels, minlength=20)
    assert len(counts) == 20 and counts.min() >= 10 and counts.max() <= 50  # expected 30 each
    assert np.mean(np.diff(levels) != 0) > 0.9  # not stuck on one level


def test_reset_without_a_task_plays_the_level_it_reports_and_follows_the_seed(env):
    def drawn(seed: int) -> list[tuple[int, np.ndarray]]:
        episodes = [(env.reset(seed=seed)[0], env.task)]
        episodes += [(env.reset()[0], env.task) for _ in range(4)]
        return [(level, obs) for obs, level in episodes]

    episodes = drawn(5)
    for (level, obs), (again, obs_again) in zip(episodes, drawn(5), strict=True):
        assert level == again
        np.testing.assert_array_equal(obs, obs_again)
        np.testing.assert_array_equal(obs, env.reset(new_task=level)[0])
    assert [level for level, _ in drawn(6)] != [level for level, _ in episodes]


def test_without_cache_every_reset_rebuilds_the_level():
    env = make_procgen("bigfish", num_levels=20, level_cache_size=0)
    try:
        actions = np.random.default_rng(2).integers(15, size=60)
        for level in (4, 9, 4, 4):
            frames, rewards = rollout(env, level, actions)
            ref_frames, ref_rewards = reference_rollout("bigfish", level, actions)
            assert rewards == ref_rewards
            assert all(np.array_equal(a, b) for a, b in zip(frames, ref_frames, strict=True))
    finally:
        env.close()


def test_truncation_at_the_game_step_limit_and_task_completion():
    env = make_procgen("maze", num_levels=2)
    try:
        env.reset(new_task=1)
        steps = 0
        while True:
            _, reward, terminated, truncated, info = env.step(NOOP)
            steps += 1
            if terminated or truncated:
                break
        assert steps == GAMES["maze"].timeout and truncated and not terminated
        assert info["level_complete"] is False and info["task_completion"] == 0.0
        with pytest.raises(RuntimeError, match="reset"):
            env.step(NOOP)
    finally:
        env.close()


def test_episode_end_reports_task_completion(env):
    env.reset(new_task=2)
    rng = np.random.default_rng(1)
    total = 0.0
    while True:
        _, reward, terminated, truncated, info = env.step(int(rng.integers(15)))
        total += reward
        if terminated or truncated:
            break
        assert "task_completion" not in info
    assert terminated and not truncated  # a random bigfish player gets eaten long before 6000 steps
    assert info["task_completion"] == normalized_return("bigfish", "easy", total)
    assert 0.0 <= info["task_completion"] <= 1.0


def test_normalized_return_uses_the_paper_constants():
    assert normalized_return("coinrun", "easy", 10.0) == 1.0
    assert normalized_return("coinrun", "easy", 7.5) == 0.5
    assert normalized_return("coinrun", "hard", 0.0) == 0.0  # clipped below R_min = 5
    assert normalized_return("starpilot", "easy", 33.25) == pytest.approx(0.5)  # (2.5, 64)
    assert normalized_return("starpilot", "hard", 18.25) == pytest.approx(0.5)  # (1.5, 35)
    assert normalized_return("fruitbot", "easy", 100.0) == 1.0


def test_held_out_levels_follow_the_training_levels():
    env = make_procgen_eval("bigfish", num_levels=200, start_level=0, num_eval_levels=50)
    try:
        assert env.task_space.tasks == list(range(200, 250))
        assert env.task == 200
        obs, info = env.reset(new_task=249)
        assert info["level_seed"] == 249
        with pytest.raises(TaskSpaceError):
            env.reset(new_task=199)
    finally:
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"game": "pong"}, "unknown Procgen game 'pong'; valid games: bigfish, bossfight"),
        ({"distribution_mode": "extreme"}, "distribution_mode 'extreme'; valid modes: easy, hard"),
        ({"num_levels": 0}, "num_levels must be an integer >= 1, got 0"),
        ({"start_level": -1}, "start_level must be an integer >= 0, got -1"),
        ({"start_level": 2**31 - 10}, "exceed the largest Procgen level seed"),
        ({"center_agnet": False}, r"unknown Procgen options \['center_agnet'\]; valid options: center_agent"),
        ({"render_mode": "human"}, "unsupported render_mode 'human'"),
        ({"level_cache_size": -1}, "level_cache_size must be an integer >= 0, got -1"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_procgen(**kwargs)


def test_bad_levels_and_tasks_are_rejected(env):
    with pytest.raises(ValueError, match="Procgen levels must be ints"):
        ProcgenTaskEnv("bigfish", levels=["a", "b"])
    env.reset(new_task=5)
    for bad in (20, -1, "3", 3.0):
        with pytest.raises(TaskSpaceError):
            env.reset(new_task=bad)
    assert env.task == 5


def make_synced_procgen(task_queue, update_queue):
    return MultiProcessingSyncWrapper(make_procgen("bigfish", num_levels=50), task_queue, update_queue)


@pytest.mark.timeout(60)
def test_domain_randomization_behind_multiprocessing_sync():
    inner = RecordingDomainRandomization(DiscreteTaskSpace(50), record_stats=True)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(inner)
    episodes = 0
    with curriculum:
        venv = gym.vector.AsyncVectorEnv([partial(make_synced_procgen, task_queue, update_queue)] * 2)
        try:
            _, info = venv.reset(seed=0)
            current = [int(task) for task in info["task"]]
            assert list(info["level_seed"]) == current
            rng = np.random.default_rng(0)
            while episodes < 6:
                _, _, terminated, truncated, info = venv.step(rng.integers(15, size=2))
                if "task" in info:  # autoreset of an env whose episode ended at the previous step
                    for i in np.flatnonzero(info["_task"]):
                        current[i] = int(info["task"][i])
                assert list(info["level_seed"]) == current  # every step plays the task the curriculum chose
                episodes += int(np.sum(terminated | truncated))
        finally:
            venv.close()
    assert inner.stat_recorder.episodes == episodes == len(inner.updates)
    for task, _, length, progress in inner.updates:
        assert 0 <= task < 50 and length > 0 and 0.0 <= progress <= 1.0


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_stable_baselines3_subproc_workers():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    inner = RecordingDomainRandomization(DiscreteTaskSpace(50), record_stats=True)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(inner)
    with curriculum:
        # SB3's default start method (forkserver): the factory is pickled and run in fresh processes
        venv = SubprocVecEnv([partial(make_synced_procgen, task_queue, update_queue)] * 2)
        try:
            venv.reset()
            current = [info["task"] for info in venv.reset_infos]
            rng = np.random.default_rng(0)
            ended = 0
            for _ in range(20_000):  # until two episodes ended (random play: their length varies)
                _, _, dones, infos = venv.step(rng.integers(15, size=2))
                for i, info in enumerate(infos):
                    assert info["level_seed"] == current[i]  # the episode that just ran played its task
                    if dones[i]:
                        current[i] = venv.reset_infos[i]["task"]
                ended += int(dones.sum())
                if ended >= 2:
                    break
        finally:
            venv.close()
    assert ended >= 2
    assert len(inner.updates) == ended  # every ended episode reached the curriculum, once
    assert all(0.0 <= progress <= 1.0 for *_, progress in inner.updates)
