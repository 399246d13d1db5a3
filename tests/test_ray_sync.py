"""Ray synchronization on a real local Ray: exactly-once delivery from envs on Ray workers, forwarded
learner calls, and clear errors for every way the curriculum actor can fail or be missing."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import ray
from ray_fixtures import (
    Signal,
    StallingCurriculum,
    kill_actor_process,
    local_ray,
    make_ray_counting_env,
    rollouts_from,
    run_env_in_task,
)
from sync_fixtures import CountingEnv, RecordingCurriculum, check_exactly_once, run_episodes

from syllabus.core import (
    CurriculumConnectionError,
    CurriculumError,
    CurriculumTimeoutError,
    CurriculumWrapper,
    RaySyncWrapper,
    make_ray_curriculum,
)
from syllabus.curricula import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]  # Ray modules


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    with local_ray():
        yield


def actor_gone(name: str, namespace: str | None = None) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    ("step_updates", "num_envs", "episodes", "max_in_flight"),
    [(False, 8, 150, 32), (True, 4, 40, 2)],
    ids=["episode-updates", "step-updates-backpressure"],
)
def test_envs_on_ray_workers_exactly_once(step_updates, num_envs, episodes, max_in_flight):
    """Envs in Ray tasks, many episodes each: every episode reaches the curriculum once, as the env saw it."""
    with make_ray_curriculum(RecordingCurriculum(step_updates)) as curriculum:
        reports = ray.get(
            [
                run_env_in_task.remote(i, episodes, step_batch_size=4, max_in_flight=max_in_flight)
                for i in range(num_envs)
            ],
            timeout=45,
        )
        recorded = curriculum.snapshot()  # every env's close() waited until its updates were applied
    check_exactly_once(recorded, rollouts_from(reports), step_updates)
    assert sum(len(e) for e in recorded.episodes.values()) == num_envs * episodes
    assert actor_gone("curriculum")


def test_env_in_the_driver_with_assigned_ids_and_prefetch():
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        first, second = make_ray_counting_env(prefetch=2), make_ray_counting_env(actor=curriculum.actor)
        episodes, delivered = run_episodes(first, 5)
        run_episodes(second, 1)
        for _ in range(20):  # resets that bring their own task consume no prefetched task
            second.reset(new_task=7)
            while not second.step(0)[2]:
                pass
        first.close()
        second.close()
        recorded = curriculum.snapshot()
    assert (first.env_id, second.env_id) == (0, 1)
    assert recorded.episodes[0] == episodes and delivered == [0, 1, 2, 3, 4]
    assert len(recorded.episodes[1]) == 21
    # first: 1 + 2 prefetched, then one per episode end; second: 1 + 1, one more for its only sampled episode
    assert len(recorded.sampled) == (3 + 5) + (2 + 1)


def test_learner_calls_return_real_values():
    with make_ray_curriculum(RecordingCurriculum(), name="forwarding") as curriculum:
        assert isinstance(curriculum, CurriculumWrapper)
        assert curriculum.sample(2) == [0, 1]
        assert curriculum.sample_with_metadata(1) == [(2, None)]
        assert curriculum.echo({"a": [1, 2]}) == {"a": [1, 2]}  # curriculum-specific methods too
        assert curriculum.task_space == DiscreteTaskSpace(10**6)
        assert curriculum.num_tasks == 10**6
        assert curriculum.requires_step_updates is False
        assert curriculum.sampled == [0, 1, 2]  # plain attributes come back by value
        curriculum.custom_update([1, 2], values=3)
        curriculum.update_on_episode(1.5, 3, 0, env_id=9)
        state = curriculum.state_dict()
        curriculum.load_state_dict(state)
        recorded = curriculum.snapshot()
        assert recorded.custom == [(([1, 2],), {"values": 3})]
        assert recorded.episodes[9] == [(0, 1.5, 3)]
        with pytest.raises(AttributeError, match="no_such_thing"):
            curriculum.no_such_thing  # noqa: B018
        with pytest.raises(TypeError, match="curriculum.actor"):
            ray.put(curriculum)


def test_metrics_are_written_by_the_learner():
    dr = DomainRandomization(DiscreteTaskSpace(4), record_stats=True)
    with make_ray_curriculum(dr) as curriculum:
        curriculum.update_on_episode(2.0, 10, 1)
        written: dict[str, float] = {}
        returned = curriculum.log_metrics(written, step=3)
        assert written == returned == curriculum.metrics()
        assert written["curriculum/task_entropy"] == pytest.approx(np.log(4))


def test_curriculum_exceptions_are_reraised_with_their_type_and_traceback():
    with make_ray_curriculum(DomainRandomization(DiscreteTaskSpace(4))) as curriculum:
        with pytest.raises(CurriculumError, match="takes no learner updates") as info:
            curriculum.custom_update()
        assert "Traceback" in str(info.value.__cause__)
        with pytest.raises(CurriculumError, match="record_stats=True"):
            curriculum.normalize(1.0, 0)
        assert curriculum.sample(1)[0] in range(4)  # a failed learner call does not break the curriculum
    with make_ray_curriculum(StallingCurriculum()) as curriculum:
        with pytest.raises(CurriculumError, match="UnpicklableError: 1 and 2"):
            curriculum.fail_oddly()


def test_plr_takes_custom_updates_through_the_actor():
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(4), random_seed=0)
    with make_ray_curriculum(plr) as curriculum:
        tasks = np.array([[0, 1], [0, 1], [2, 3], [2, 3]])
        rewards = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
        dones = np.array([[False, False], [True, True], [False, False], [True, True]])
        values = np.full((4, 2), 0.5)
        curriculum.custom_update(tasks, rewards, dones, values, np.zeros(2))
        assert not np.isnan(curriculum.scores).any()
        assert curriculum.sample_weights().sum() == pytest.approx(1.0)
        env = RaySyncWrapper(CountingEnv(DiscreteTaskSpace(4)))
        _, info = env.reset()
        assert set(info["task_metadata"]) == {"replay", "train"}
        env.close()
        with pytest.raises(ValueError, match="shape"):
            curriculum.custom_update(tasks[:, :1], rewards, dones, values, np.zeros(2))


# ----------------------------------------------------------------------------- failures


def test_curriculum_raising_reaches_env_and_learner():
    with make_ray_curriculum(RecordingCurriculum(fail_on_sample=True)) as curriculum:
        env = make_ray_counting_env(timeout=10)
        with pytest.raises(CurriculumError, match=r"(?s)Traceback.*RuntimeError: sample exploded on purpose"):
            env.reset()
        env.close()
        with pytest.raises(CurriculumError, match=r"(?s)Traceback.*RuntimeError: sample exploded on purpose"):
            curriculum.metrics()


def test_name_taken_and_namespaces():
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        with pytest.raises(CurriculumError, match="actor named 'curriculum' already exists"):
            make_ray_curriculum(RecordingCurriculum())
        with make_ray_curriculum(RecordingCurriculum(), namespace="elsewhere") as other:
            other.sample(5)
            env = RaySyncWrapper(CountingEnv(), namespace="elsewhere")
            assert env.reset()[1]["task"] == 5  # found the actor of that namespace
            env.close()
        assert curriculum.sample(1) == [0]
    replacement = make_ray_curriculum(RecordingCurriculum())  # the name is free again after close
    replacement.close()
    replacement.close()  # idempotent


def test_missing_actor_and_bad_arguments():
    env = RaySyncWrapper(CountingEnv(), curriculum_name="nobody")
    with pytest.raises(CurriculumConnectionError, match="no curriculum actor named 'nobody'"):
        env.reset()
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        with pytest.raises(TypeError, match="curriculum actor's handle"):
            RaySyncWrapper(CountingEnv(), actor=curriculum)
        with pytest.raises(ValueError, match="max_in_flight must be >= 1, got 0"):
            RaySyncWrapper(CountingEnv(), max_in_flight=0)
    with pytest.raises(ValueError, match=r"may not set \['max_concurrency'\]"):
        make_ray_curriculum(RecordingCurriculum(), actor_options={"max_concurrency": 4})
    with pytest.raises(TypeError, match="must be a Curriculum"):
        make_ray_curriculum(object())


def test_bad_tasks_are_errors():
    with make_ray_curriculum(RecordingCurriculum(out_of_space=True)) as curriculum:
        env = make_ray_counting_env(timeout=10)
        with pytest.raises(CurriculumError, match=r"sampled task -1, which is not in DiscreteTaskSpace"):
            env.reset()
        env.close()
        with pytest.raises(CurriculumError, match="sampled task -1"):
            curriculum.sample()
    with make_ray_curriculum(RecordingCurriculum()):
        env = RaySyncWrapper(CountingEnv(DiscreteTaskSpace(1)), timeout=10)
        env.reset()  # task 0 fits
        with pytest.raises(TaskSpaceError, match=r"task 1 is not in DiscreteTaskSpace\(1\)"):
            env.reset()
        env.close()


def test_killed_actor_is_named_in_the_errors():
    curriculum = make_ray_curriculum(RecordingCurriculum(), name="doomed")
    env = RaySyncWrapper(CountingEnv(), curriculum_name="doomed", prefetch=0, timeout=10)
    run_episodes(env, 1)
    kill_actor_process(curriculum.actor)
    with pytest.raises(CurriculumConnectionError, match="curriculum actor 'doomed' is dead"):
        run_episodes(env, 2)  # the task already delivered is used; the next exchange fails
    env.close()
    with pytest.raises(CurriculumConnectionError, match="curriculum actor 'doomed' is dead"):
        curriculum.sample()
    curriculum.close()


def test_stalled_curriculum_times_out():
    signal = Signal.remote()
    with make_ray_curriculum(StallingCurriculum(), timeout=0.5) as curriculum:
        with pytest.raises(CurriculumTimeoutError, match="'curriculum' did not answer within 0.5 s"):
            curriculum.stall(signal)  # the actor stays blocked after the learner gives up
        env = make_ray_counting_env(timeout=0.5)
        with pytest.raises(CurriculumTimeoutError, match=r"did not answer env None within 0.5 s"):
            env.reset()
        ray.get(signal.release.remote(), timeout=10)
        assert env.reset()[1]["task"] == 0  # the requests sent before the timeout were answered
        env.close()
    ray.kill(signal)


def test_actor_that_cannot_be_placed_times_out():
    with pytest.raises(CurriculumConnectionError, match="did not start within 0.5 s"):
        make_ray_curriculum(
            RecordingCurriculum(), start_timeout=0.5, actor_options={"resources": {"no-such-node": 1}}
        )
    assert actor_gone("curriculum")


NOT_INITIALIZED = """
import sys
from syllabus.core import RaySyncWrapper, make_ray_curriculum
assert "ray" not in sys.modules, "importing syllabus.core must not import Ray"
import ray
from syllabus.curricula import DomainRandomization
from syllabus.envs.cartpole import make_cartpole
from syllabus.task_space import DiscreteTaskSpace
for attempt in (
    lambda: make_ray_curriculum(DomainRandomization(DiscreteTaskSpace(2))),
    lambda: RaySyncWrapper(make_cartpole()).reset(),
):
    try:
        attempt()
    except Exception as exc:
        print(type(exc).__name__, exc)
assert not ray.is_initialized()
"""


def test_ray_not_initialized():
    result = subprocess.run(
        [sys.executable, "-c", NOT_INITIALIZED],
        capture_output=True,
        text=True,
        timeout=50,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("CurriculumConnectionError Ray is not initialized: call ray.init()")
    assert lines[1].startswith("CurriculumConnectionError Ray is not initialized in this process")
