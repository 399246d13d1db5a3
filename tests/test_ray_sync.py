"""Ray synchronization on a real local Ray: exactly-once delivery from envs on Ray workers, forwarded
learner calls, and clear errors for every way the curriculum actor can fail or be missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import psutil
import pytest
import ray
from ray_fixtures import (
    EnvHolder,
    Signal,
    StallingCurriculum,
    kill_actor_process,
    local_ray,
    make_ray_counting_env,
    rollouts_from,
    run_env_in_task,
)
from sync_fixtures import CountingEnv, RecordingCurriculum, check_exactly_once, run_episodes
from timeouts import scaled

from syllabus.core import (
    CurriculumConnectionError,
    CurriculumError,
    CurriculumTimeoutError,
    CurriculumWrapper,
    RayCurriculumWrapper,
    RaySyncWrapper,
    make_ray_curriculum,
)
from syllabus.core.ray.calls import result_of
from syllabus.curricula import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]


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
            timeout=scaled(45),
        )
        recorded = curriculum.snapshot()  # every env's close() waited until its updates were applied
    check_exactly_once(recorded, rollouts_from(reports), step_updates)
    assert sum(len(e) for e in recorded.episodes.values()) == num_envs * episodes
    assert actor_gone("curriculum")


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


def test_a_call_that_is_not_answered_in_time_raises_the_timeout_error():
    """The one bounded wait for an actor's answer: late means CurriculumTimeoutError, naming the actor."""
    signal = Signal.remote()
    try:
        wait = scaled(0.2)
        expected = f"the signal actor did not answer within {wait:g} s; it is blocked or very slow. Raise `timeout` if this is expected."
        with pytest.raises(CurriculumTimeoutError, match=f"^{re.escape(expected)}$") as info:
            result_of(signal.wait.remote(), wait, "the signal actor")
        assert isinstance(info.value, TimeoutError)  # what the transports' callers catch
        assert info.value.__suppress_context__  # no Ray traceback in what the user sees
        ray.get(signal.release.remote(), timeout=scaled(10))
        assert result_of(signal.wait.remote(), scaled(10), "the signal actor") is None  # answered: its result
    finally:
        ray.kill(signal)


def test_a_call_to_a_dead_actor_raises_the_connection_error():
    signal = Signal.remote()
    kill_actor_process(signal)
    with pytest.raises(
        CurriculumConnectionError, match=r"^the signal actor is dead \(closed, killed, or its node failed\): "
    ) as info:
        result_of(signal.wait.remote(), scaled(10), "the signal actor")
    assert info.value.__suppress_context__


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


def test_a_hand_built_handle_never_kills_the_actor_unless_it_owns_it():
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        handle = RayCurriculumWrapper(curriculum.actor, "curriculum", None, 10.0, curriculum.task_space)
        assert handle.sample(1) == [0]
        handle.close()
        del handle
        assert curriculum.sample(1) == [1]  # the actor lives on for its owner
        owner = RayCurriculumWrapper(
            curriculum.actor, "curriculum", None, 10.0, curriculum.task_space, owner=True
        )
        pid = ray.get(curriculum.actor.__ray_call__.remote(lambda _: os.getpid()), timeout=scaled(10))
        process = psutil.Process(pid)
        owner.close()
        process.wait(timeout=scaled(10))  # ray.kill returns before the actor is gone
        with pytest.raises(CurriculumError):
            curriculum.sample(1)


def test_missing_actor_and_bad_arguments():
    env = RaySyncWrapper(CountingEnv(), curriculum_name="nobody")
    with pytest.raises(CurriculumConnectionError, match="no curriculum actor named 'nobody'"):
        env.reset()
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        with pytest.raises(TypeError, match="curriculum actor's handle"):
            RaySyncWrapper(CountingEnv(), actor=curriculum)
        with pytest.raises(ValueError, match="max_in_flight must be an integer >= 1, got 0"):
            RaySyncWrapper(CountingEnv(), max_in_flight=0)
        with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
            RaySyncWrapper(CountingEnv(), batch_size=0)
        with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 2.0"):
            RaySyncWrapper(CountingEnv(), batch_size=2.0)
    with pytest.raises(ValueError, match=r"may not set \['max_concurrency'\]"):
        make_ray_curriculum(RecordingCurriculum(), actor_options={"max_concurrency": 4})
    with pytest.raises(TypeError, match="make_ray_curriculum: curriculum must be a syllabus Curriculum"):
        make_ray_curriculum(object())
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        make_ray_curriculum(RecordingCurriculum(), name="")


def test_killed_actor_is_named_in_the_errors():
    curriculum = make_ray_curriculum(RecordingCurriculum(), name="doomed")
    env = RaySyncWrapper(CountingEnv(), curriculum_name="doomed", prefetch=0, timeout=scaled(10))
    run_episodes(env, 1)
    kill_actor_process(curriculum.actor)
    with pytest.raises(CurriculumConnectionError, match="curriculum actor 'doomed' is dead"):
        run_episodes(env, 2)  # the task already delivered is used; the next exchange fails
    env.close()
    with pytest.raises(CurriculumConnectionError, match="curriculum actor 'doomed' is dead"):
        curriculum.sample()
    curriculum.close()


def test_env_given_only_the_handle_names_the_actor_by_its_real_name():
    curriculum = make_ray_curriculum(RecordingCurriculum(), name="real-name", namespace="somewhere")
    env = RaySyncWrapper(CountingEnv(), actor=curriculum.actor, prefetch=0, timeout=scaled(10))
    run_episodes(env, 1)
    kill_actor_process(curriculum.actor)
    with pytest.raises(
        CurriculumConnectionError, match="actor 'real-name' \\(namespace 'somewhere'\\) is dead"
    ):
        run_episodes(env, 2)
    env.close()
    curriculum.close()
    late = RaySyncWrapper(CountingEnv(), actor=curriculum.actor, timeout=scaled(10))
    with pytest.raises(CurriculumConnectionError, match="given as `actor` is dead"):
        late.reset()


def test_id_of_an_env_whose_actor_died_is_free_again():
    with make_ray_curriculum(RecordingCurriculum()):
        holder = EnvHolder.remote(0)
        assert ray.get(holder.reset.remote(), timeout=scaled(30)) == (0, 0)
        kill_actor_process(holder)  # the env never says goodbye
        env = make_ray_counting_env(0, timeout=scaled(10))
        assert env.reset()[1]["task"] is not None
        assert env.env_id == 0
        env.close()


def test_stalled_learner_call_times_out():
    signal = Signal.remote()
    with make_ray_curriculum(StallingCurriculum(), timeout=scaled(0.5)) as curriculum:
        with pytest.raises(
            CurriculumTimeoutError, match=f"'curriculum' did not answer within {scaled(0.5):g} s"
        ):
            curriculum.stall(signal)  # the actor stays blocked after the learner gives up
        ray.get(signal.release.remote(), timeout=scaled(10))
        assert curriculum.sample(1) == [0]
    ray.kill(signal)


def test_actor_that_cannot_be_placed_fails_at_once_naming_the_cause():
    # Pinned to the driver's node, which lacks the resource: Ray refuses it at once.
    with pytest.raises(CurriculumConnectionError, match="cannot be placed: .*soft=False"):
        make_ray_curriculum(
            RecordingCurriculum(), start_timeout=scaled(30), actor_options={"resources": {"no-such-node": 1}}
        )
    assert actor_gone("curriculum")
    # Placed by Ray's default strategy instead: no node has it, and the wait is bounded.
    with pytest.raises(CurriculumConnectionError, match="did not start within 0.5 s"):
        make_ray_curriculum(
            RecordingCurriculum(),
            start_timeout=0.5,
            actor_options={"resources": {"no-such-node": 1}, "scheduling_strategy": "DEFAULT"},
        )
    assert actor_gone("curriculum")


def test_the_curriculum_actor_is_pinned_to_the_drivers_node():
    with make_ray_curriculum(RecordingCurriculum()) as curriculum:
        node = ray.get(
            curriculum.actor.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id())
        )
        assert node == ray.get_runtime_context().get_node_id()


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
        timeout=scaled(50),
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("CurriculumConnectionError Ray is not initialized: call ray.init()")
    assert lines[1].startswith("CurriculumConnectionError Ray is not initialized in this process")


# ------------------------------------------------------------------------------------ batching
def test_default_batch_size_follows_prefetch():
    assert RaySyncWrapper(CountingEnv()).batch_size == 8  # the default prefetch is 8
    assert RaySyncWrapper(CountingEnv(), prefetch=3).batch_size == 3
    assert RaySyncWrapper(CountingEnv(), prefetch=0).batch_size == 1
    assert RaySyncWrapper(CountingEnv(), prefetch=64).batch_size == 8


def test_episode_updates_travel_together_in_order():
    """The curriculum sees no update of a batch until it is full, then all of them, in the env's order."""
    with make_ray_curriculum(RecordingCurriculum(), name="batched") as curriculum:
        env = RaySyncWrapper(
            CountingEnv(), actor=curriculum.actor, prefetch=8, batch_size=4, timeout=scaled(10)
        )
        episodes, _ = run_episodes(env, 3)
        # This process's calls reach the actor in the order they were made: the snapshot follows any update sent.
        assert curriculum.snapshot().episodes[0] == []
        more, _ = run_episodes(env, 1)
        assert curriculum.snapshot().episodes[0] == episodes + more
        env.close()


def test_close_sends_the_updates_still_in_the_batch():
    with make_ray_curriculum(RecordingCurriculum(step_updates=True), name="closing") as curriculum:
        env = RaySyncWrapper(
            CountingEnv(),
            actor=curriculum.actor,
            prefetch=8,
            batch_size=8,
            step_batch_size=3,
            timeout=scaled(10),
        )
        episodes, tasks = run_episodes(env, 5)
        env.close()
        recorded = curriculum.snapshot()
    assert recorded.episodes[0] == episodes
    assert [task for task, _ in recorded.steps[0]] == [
        task for task, _, length in episodes for _ in range(length)
    ]
    assert recorded.sampled[: len(tasks)] == tasks


def test_resets_use_prefetched_tasks_while_the_actor_is_blocked():
    """With batch_size <= prefetch no reset waits on a request still held in the env's batch."""
    with make_ray_curriculum(RecordingCurriculum(), name="prefetching") as curriculum:
        env = RaySyncWrapper(CountingEnv(), actor=curriculum.actor, prefetch=8, batch_size=4, timeout=0.5)
        env.reset()  # receives 1 + 8 tasks
        signal = Signal.remote()
        curriculum.actor.__ray_call__.remote(lambda _: ray.get(signal.wait.remote(), timeout=scaled(30)))
        try:
            # 8 episodes on prefetched tasks, 2 full batches sent to a blocked actor: a wait would time out.
            _, tasks = run_episodes(env, 8)
        finally:
            ray.get(signal.release.remote(), timeout=scaled(10))
            ray.kill(signal)
        assert tasks == list(range(1, 9))
        _, later = run_episodes(env, 4)
        assert later == list(range(9, 13))
        env.close()
        assert len(curriculum.snapshot().episodes[0]) == 12


def test_a_reset_that_needs_a_task_sends_the_batch_it_holds():
    """batch_size > prefetch: the request for the next task may still be in the batch; the reset sends it."""
    with make_ray_curriculum(RecordingCurriculum(), name="eager") as curriculum:
        env = RaySyncWrapper(
            CountingEnv(), actor=curriculum.actor, prefetch=1, batch_size=50, timeout=scaled(10)
        )
        episodes, tasks = run_episodes(env, 12)
        assert tasks == list(range(12))
        applied = curriculum.snapshot().episodes[0]
        assert 0 < len(applied) < len(episodes)  # sent by the resets that needed tasks; the last ones held
        assert applied == episodes[: len(applied)]
        env.close()
        assert curriculum.snapshot().episodes[0] == episodes
