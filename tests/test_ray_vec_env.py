"""RayVecEnv on a real local Ray: SB3 auto-reset semantics, exactly-once sync with the Ray curriculum,
PPO with PLR end to end, and an env that raises or dies, or a dead curriculum actor, stopping the run
with the env's index and the cause."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import psutil
import pytest
import ray
from process_resources import live_processes
from ray_fixtures import kill_actor_process, local_ray, make_ray_counting_env
from stable_baselines3 import PPO
from sync_fixtures import (
    CountingEnv,
    ExplodingEnv,
    RecordingCurriculum,
    check_exactly_once,
    exploding_factory,
    run_sb3_vector,
)
from timeouts import scaled

from syllabus.core import CurriculumConnectionError, CurriculumError, RaySyncWrapper, make_ray_curriculum
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.ray_vec_env import EnvWorkerError, RayVecEnv
from syllabus.integrations.sb3 import PLRCallback
from syllabus.task_space import DiscreteTaskSpace

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

NUM_ENVS = 4
EPISODES = 25
CARTPOLE_TASKS = DiscreteTaskSpace([0.05, 0.1, 0.15, 0.2])


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    with local_ray():
        yield


def actor_pids(venv: RayVecEnv) -> list[int]:
    return [ray.get(actor.pid.remote(), timeout=scaled(30)) for actor in venv.actors]


def assert_processes_exit(pids: list[int]) -> None:
    _, alive = psutil.wait_procs(live_processes(pids), timeout=scaled(15))
    assert not alive, f"env actor processes still running after close: {alive}"


@pytest.mark.parametrize("step_updates", [False, True], ids=["episode-updates", "step-updates"])
def test_synced_envs_exactly_once(step_updates):
    with make_ray_curriculum(RecordingCurriculum(step_updates)) as curriculum:
        venv = RayVecEnv([partial(make_ray_counting_env, i, step_batch_size=4) for i in range(NUM_ENVS)])
        pids = actor_pids(venv)
        try:
            rollouts = run_sb3_vector(venv, EPISODES)
        finally:
            venv.close()
        recorded = curriculum.snapshot()  # each env's close() waited until its updates were applied
    check_exactly_once(recorded, rollouts, step_updates)
    assert_processes_exit(pids)


def test_sb3_auto_reset_semantics_and_env_access():
    venv = RayVecEnv([partial(CountingEnv, DiscreteTaskSpace(10)) for _ in range(2)])
    try:
        venv.seed(3)
        venv.reset()
        assert venv.get_attr("task") == [None, None]
        venv.env_method("reset", new_task=4, indices=[1])  # episodes of task 4 last 7 steps, of no task 3
        done_steps: list[list[int]] = [[], []]
        for step in range(1, 8):
            _, _, dones, infos = venv.step(np.zeros(2, dtype=np.int64))
            for i in np.flatnonzero(dones):
                done_steps[i].append(step)
                assert infos[i]["terminal_observation"].shape == (1,)
                assert infos[i]["TimeLimit.truncated"] is False
        assert done_steps == [[3, 6], [7]]  # each env reset itself at its episode end
        venv.set_attr("marker", 5, indices=0)
        assert venv.get_attr("marker", indices=0) == [5]
        assert venv.has_attr("task_space") and not venv.has_attr("no_such_attribute")
        assert venv.env_is_wrapped(gym.Wrapper) == [False, False]
    finally:
        venv.close()


@pytest.mark.filterwarnings("ignore:The environment is already wrapped with a `Monitor`")
def test_env_is_wrapped_goes_by_class_name_and_imports_nothing_into_the_actors():
    """SB3's ``VecMonitor`` asks whether the envs are wrapped in ``Monitor``; an actor whose env is not
    answers without importing SB3's ``monitor`` module, and with it torch."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecMonitor

    venv = RayVecEnv([lambda: Monitor(make_cartpole()), make_cartpole])
    try:
        assert venv.env_is_wrapped(Monitor) == [True, False]
        assert venv.env_is_wrapped(gym.Wrapper) == [True, True]  # make_cartpole's TimeLimit
        VecMonitor(venv).reset()
        pids = ray.get([actor.pid.remote() for actor in venv.actors])
        with open(f"/proc/{pids[1]}/maps") as maps:
            assert "libtorch" not in maps.read()
    finally:
        venv.close()


def test_ppo_with_plr_on_cartpole():
    """PPO trains a few hundred steps on Ray env actors while PLR gets rollouts through the curriculum actor."""
    plr = PrioritizedLevelReplay(CARTPOLE_TASKS, random_seed=0)
    with make_ray_curriculum(plr) as curriculum:
        venv = RayVecEnv([lambda: RaySyncWrapper(make_cartpole(CARTPOLE_TASKS))] * 2)
        try:
            model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
            model.learn(3 * 64 * 2, callback=PLRCallback(curriculum))
            assert model.num_timesteps == 3 * 64 * 2
            infos = venv.reset_infos
        finally:
            venv.close()
        assert all(CARTPOLE_TASKS.contains(info["task"]) for info in infos)
        assert all(set(info["task_metadata"]) == {"replay", "train"} for info in infos)
        assert not np.isnan(curriculum.scores).all()  # rollouts reached PLR through the actor
        assert curriculum.sample_weights().sum() == pytest.approx(1.0)


def test_curriculum_failure_stops_the_vector_env():
    with make_ray_curriculum(RecordingCurriculum(fail_on_sample=True)) as curriculum:
        venv = RayVecEnv([partial(make_ray_counting_env, timeout=scaled(10))] * 2)
        try:
            # the env's CurriculumError, naming the env, with the curriculum's traceback
            with pytest.raises(
                CurriculumError,
                match=r"(?s)env \d of the RayVecEnv: .*in sample\n.*RuntimeError: sample exploded on purpose",
            ):
                venv.reset()
        finally:
            venv.close()
        with pytest.raises(CurriculumError, match="sample exploded on purpose"):
            curriculum.sample()


def test_dead_env_worker_is_named_and_close_leaves_no_actor():
    venv = RayVecEnv([CountingEnv] * 3)
    pids = actor_pids(venv)
    venv.reset()
    kill_actor_process(venv.actors[1])
    with pytest.raises(EnvWorkerError, match="env 1 of the RayVecEnv died.*does not restart"):
        venv.step(np.zeros(3, dtype=np.int64))
    venv.close()
    venv.close()  # idempotent
    assert_processes_exit(pids)


def test_env_that_raises_is_named_with_its_traceback():
    venv = RayVecEnv([CountingEnv, ExplodingEnv])
    try:
        venv.reset()
        with pytest.raises(
            EnvWorkerError,
            match=r"(?s)env 1 of the RayVecEnv raised ValueError: env exploded on purpose.*sync_fixtures.py.*in step",
        ):
            for _ in range(3):
                venv.step(np.zeros(2, dtype=np.int64))
    finally:
        venv.close()


def test_env_whose_factory_raises_is_named_with_the_cause():
    with pytest.raises(EnvWorkerError, match=r"(?s)env 1 of the RayVecEnv died.*factory exploded on purpose"):
        venv = RayVecEnv([CountingEnv, exploding_factory])
        try:
            venv.reset()
        finally:
            venv.close()


def test_dead_curriculum_actor_is_named_by_its_real_name():
    curriculum = make_ray_curriculum(RecordingCurriculum(), name="vec-curriculum")
    venv = RayVecEnv(
        [partial(RaySyncWrapper, CountingEnv(), actor=curriculum.actor, prefetch=0, timeout=scaled(10))] * 2
    )
    try:
        venv.reset()
        kill_actor_process(curriculum.actor)
        with pytest.raises(
            CurriculumConnectionError, match=r"env \d of the RayVecEnv: .*actor 'vec-curriculum' is dead"
        ):
            for _ in range(10):  # episodes last at most 7 steps; the next reset needs the curriculum
                venv.step(np.zeros(2, dtype=np.int64))
    finally:
        venv.close()
        curriculum.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one env factory"):
        RayVecEnv([])
    with pytest.raises(ValueError, match="num_cpus=-1"):
        RayVecEnv([CountingEnv], num_cpus=-1)
