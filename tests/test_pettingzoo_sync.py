"""PettingZoo envs synced from real processes: every start method, Ray workers, SB3 vector envs with
parameter sharing. Exactly once per agent and per episode; nothing left running."""

from __future__ import annotations

import multiprocessing
import os
import threading
from functools import partial

import numpy as np
import pytest
from pettingzoo_fixtures import (
    AGENTS,
    make_stacked_counting_env,
    pettingzoo_process_worker,
    run_ray_pettingzoo_env,
)
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from sync_fixtures import RecordingCurriculum
from timeouts import scaled

from syllabus.core import (
    MultiagentSharedCurriculumWrapper,
    make_multiprocessing_curriculum,
    make_ray_curriculum,
)
from syllabus.integrations.sb3_pettingzoo import agents_vec_env

pytestmark = pytest.mark.timeout(90)

START_METHODS = [
    "fork",
    pytest.param("forkserver", marks=pytest.mark.slow),
    pytest.param("spawn", marks=pytest.mark.slow),
]


def assert_closed(curriculum) -> None:
    assert not [t for t in threading.enumerate() if t.name == "syllabus-curriculum-sync"]
    assert not os.path.exists(os.path.dirname(curriculum.task_queue.address))


def check_reports(recording: RecordingCurriculum, reports, episodes: int) -> None:
    """Each process's per-agent episodes are exactly those on its lanes; no task ran twice."""
    delivered = []
    for env_id, observed, tasks in reports:
        for i, agent in enumerate(AGENTS):
            assert recording.episodes[env_id * len(AGENTS) + i] == observed[agent]
            assert len(observed[agent]) == episodes
        delivered += tasks
    assert len(set(delivered)) == len(delivered)
    assert set(delivered) <= set(recording.sampled)
    assert sum(len(e) for e in recording.episodes.values()) == len(reports) * len(AGENTS) * episodes


@pytest.mark.parametrize("context", START_METHODS)
def test_env_processes_exactly_once_per_agent_and_episode(context):
    num_envs, episodes = 3, 60
    ctx = multiprocessing.get_context(context)
    recording = RecordingCurriculum()
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(
        MultiagentSharedCurriculumWrapper(recording, AGENTS)
    )
    results = ctx.Queue()
    with curriculum:
        workers = [
            ctx.Process(
                target=pettingzoo_process_worker, args=(task_queue, update_queue, i, episodes, results)
            )
            for i in range(num_envs)
        ]
        for worker in workers:
            worker.start()
        reports = [results.get(timeout=scaled(60)) for _ in workers]
        for worker in workers:
            worker.join(timeout=scaled(10))
            assert worker.exitcode == 0
    check_reports(recording, reports, episodes)
    assert_closed(curriculum)


@pytest.mark.slow
def test_ray_workers_exactly_once_per_agent_and_episode():
    import ray
    from ray_fixtures import local_ray

    with local_ray():
        recording_curriculum = MultiagentSharedCurriculumWrapper(RecordingCurriculum(), AGENTS)
        with make_ray_curriculum(recording_curriculum) as curriculum:
            task = ray.remote(num_cpus=0)(run_ray_pettingzoo_env)
            reports = ray.get([task.remote(i, 40, step_batch_size=4) for i in range(3)], timeout=scaled(60))
            recorded = curriculum.snapshot()  # each env's close() waited until its updates were applied
        check_reports(recorded.curriculum, reports, 40)


def run_shared_policy(venv, steps: int) -> dict[int, list[tuple[float, float]]]:
    """Steps an AgentsVecEnv; returns each entry's finished episodes as (task, return)."""
    rng = np.random.default_rng(0)
    venv.reset()
    tasks = [info["task"] for info in venv.reset_infos]
    returns = np.zeros(venv.num_envs)
    episodes: dict[int, list[tuple[float, float]]] = {i: [] for i in range(venv.num_envs)}
    for _ in range(steps):
        _, rewards, dones, _ = venv.step(rng.integers(0, 2, venv.num_envs))
        returns += rewards
        for i in np.flatnonzero(dones):
            episodes[i].append((tasks[i], float(returns[i])))
            returns[i] = 0.0
            tasks[i] = venv.reset_infos[i]["task"]
    return episodes


@pytest.mark.parametrize(
    "make_venv",
    [DummyVecEnv, pytest.param(partial(SubprocVecEnv, start_method="forkserver"), marks=pytest.mark.slow)],
    ids=["dummy", "subproc"],
)
def test_parameter_sharing_vec_env_reports_each_agent_once(make_venv):
    """An SB3 vector env of stacked agents: each agent is an entry whose episodes are that agent's."""
    from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv

    recording = RecordingCurriculum()
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(
        MultiagentSharedCurriculumWrapper(recording, AGENTS)
    )
    with curriculum:
        probe = make_stacked_counting_env(task_queue, update_queue)
        assert isinstance(probe, StackedAgentsEnv)
        venv = agents_vec_env(
            make_venv([partial(make_stacked_counting_env, task_queue, update_queue)] * 2), probe
        )
        probe.close()
        assert venv.num_envs == 2 * len(AGENTS)
        try:
            seen = run_shared_policy(venv, 200)
        finally:
            venv.close()
    # The curriculum's lanes (env id * agents + agent) hold what each entry saw, in order; the env
    # ids are assigned in connection order, so match entries to lanes by their task sequences.
    lanes = {lane: [(float(task), ret) for task, ret, _ in eps] for lane, eps in recording.episodes.items()}
    for entry, episodes in seen.items():
        agent = entry % len(AGENTS)
        candidates = [
            lane for lane in lanes if lane % len(AGENTS) == agent and lanes[lane][: len(episodes)] == episodes
        ]
        assert candidates, f"entry {entry}: its episodes {episodes[:3]}... reached no lane of agent {agent}"
    assert_closed(curriculum)
