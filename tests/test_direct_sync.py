"""In-process synchronization with single-process vector envs: deterministic, no threads.

What every backend must do (exactly once, duplicate ids, close, errors, bad arguments) is in
test_sync_conformance.py."""

from __future__ import annotations

import threading

import gymnasium as gym
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv
from sync_fixtures import (
    CountingEnv,
    RecordingCurriculum,
    check_exactly_once,
    run_episodes,
    run_gymnasium_vector,
    run_sb3_vector,
)

from syllabus.core import DirectSyncWrapper, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization, PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace


def factories(curriculum, num_envs: int = 3):
    return [lambda: DirectSyncWrapper(CountingEnv(), curriculum) for _ in range(num_envs)]


@pytest.mark.parametrize("step_updates", [False, True])
def test_sync_vector_env_exactly_once(step_updates):
    curriculum = RecordingCurriculum(step_updates=step_updates)
    threads = threading.active_count()
    venv = gym.vector.SyncVectorEnv(factories(curriculum))
    rollouts = run_gymnasium_vector(venv, episodes=20)
    assert threading.active_count() == threads, "the direct backend must not start threads"
    venv.close()
    check_exactly_once(curriculum, rollouts, step_updates)


def test_dummy_vec_env_exactly_once():
    curriculum = RecordingCurriculum()
    venv = DummyVecEnv(factories(curriculum))
    rollouts = run_sb3_vector(venv, episodes=20)
    venv.close()
    check_exactly_once(curriculum, rollouts, step_updates=False)


def test_runs_are_deterministic_given_seeds():
    def run() -> tuple[list, list]:
        space = DiscreteTaskSpace(50)
        curriculum = PrioritizedLevelReplay(space, random_seed=3, record_stats=True)
        venv = gym.vector.SyncVectorEnv(
            [lambda: DirectSyncWrapper(CountingEnv(space), curriculum) for _ in range(4)]
        )
        rollouts = run_gymnasium_vector(venv, episodes=15)
        venv.close()
        return rollouts.delivered, sorted(rollouts.episodes.items())

    assert run() == run()


def test_prefetch_keeps_tasks_ready_without_waiting():
    curriculum = RecordingCurriculum()
    env = DirectSyncWrapper(CountingEnv(), curriculum, prefetch=2)
    episodes, delivered = run_episodes(env, 5)
    # 1 running + 2 prefetched at the first reset, then one more per episode end.
    assert curriculum.sampled == list(range(3 + 5))
    assert delivered == list(range(5))
    assert [task for task, _, _ in episodes] == delivered


def test_env_ids_are_assigned_per_curriculum():
    first, second = RecordingCurriculum(), RecordingCurriculum()
    envs = [DirectSyncWrapper(CountingEnv(), first) for _ in range(2)]
    other = DirectSyncWrapper(CountingEnv(), second)
    for env in [*envs, other]:
        env.reset()
    assert [env.env_id for env in envs] == [0, 1]
    assert other.env_id == 0


def test_served_curriculum_is_refused():
    curriculum, _, _ = make_multiprocessing_curriculum(DomainRandomization(DiscreteTaskSpace(3)))
    with curriculum, pytest.raises(TypeError, match="already serves: pass the curriculum itself"):
        DirectSyncWrapper(CountingEnv(), curriculum)
