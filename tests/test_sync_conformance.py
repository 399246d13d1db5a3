"""What every sync backend must do, tested the same way on each: in-process (``direct``),
``multiprocessing`` and ``ray`` (a real local Ray, started once for this module).

The environments run in the test process, so each test controls exactly what was sent when;
backend-specific behaviour (vector envs, start methods, SB3 pickling, Ray workers and actor
death) is tested in test_direct_sync.py, test_multiprocessing_sync.py and test_ray_sync.py.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from sync_fixtures import (
    TASK_SPACE,
    CountingEnv,
    RecordingCurriculum,
    Rollouts,
    check_exactly_once,
    read_journal,
    run_episodes,
)
from timeouts import scaled

from syllabus.core import (
    CurriculumConnectionError,
    CurriculumError,
    CurriculumTimeoutError,
    DirectSyncWrapper,
    MultiProcessingSyncWrapper,
    RaySyncWrapper,
    SyncWrapper,
    TaskInterfaceError,
    make_multiprocessing_curriculum,
    make_ray_curriculum,
)
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError

pytestmark = pytest.mark.timeout(60)

BACKENDS = [
    "direct",
    "multiprocessing",
    pytest.param("ray", marks=pytest.mark.slow),
]
_names = itertools.count()


class Backend:
    """One backend as the tests see it: serve a curriculum, build envs in this process, inspect it."""

    name: str
    has_peer = True  # a curriculum side that can be slow, blocked or gone

    def serve(self, curriculum: RecordingCurriculum) -> Any:
        """The learner's handle on ``curriculum``."""
        raise NotImplementedError

    def env(self, served: Any, env: gym.Env | None = None, **kwargs: Any) -> SyncWrapper:
        """A synced ``env`` (a CountingEnv by default) built in this process."""
        raise NotImplementedError

    def learner(self, served: Any) -> Any:
        """What the learner calls: the curriculum, or the wrapper that serves it."""
        return served

    def state(self, served: Any) -> RecordingCurriculum:
        """The curriculum after every message this process sent was applied (may close it)."""
        raise NotImplementedError

    def close(self, served: Any) -> None:
        """Closes the curriculum side."""
        served.close()

    @contextlib.contextmanager
    def blocked(self, served: Any) -> Iterator[None]:
        """Keeps the curriculum side busy (it answers nothing) inside the block."""
        raise NotImplementedError
        yield


class Direct(Backend):
    name = "direct"
    has_peer = False

    def serve(self, curriculum: RecordingCurriculum) -> Any:
        return curriculum

    def env(self, served: Any, env: gym.Env | None = None, **kwargs: Any) -> SyncWrapper:
        kwargs.pop("timeout", None)  # nothing to wait for in-process
        return DirectSyncWrapper(env or CountingEnv(), served, **kwargs)

    def state(self, served: Any) -> RecordingCurriculum:
        return served

    def close(self, served: Any) -> None:
        pass


class MultiProcessing(Backend):
    name = "multiprocessing"

    def serve(self, curriculum: RecordingCurriculum) -> Any:
        return make_multiprocessing_curriculum(curriculum)

    def env(self, served: Any, env: gym.Env | None = None, **kwargs: Any) -> SyncWrapper:
        _, task_queue, update_queue = served
        return MultiProcessingSyncWrapper(env or CountingEnv(), task_queue, update_queue, **kwargs)

    def learner(self, served: Any) -> Any:
        return served[0]

    def state(self, served: Any) -> RecordingCurriculum:
        wrapper = served[0]
        wrapper.close()  # handles everything sent first; the curriculum object stays readable
        return wrapper.curriculum

    def close(self, served: Any) -> None:
        served[0].close()

    @contextlib.contextmanager
    def blocked(self, served: Any) -> Iterator[None]:
        with served[0]._lock:  # the sync thread waits for the curriculum's lock
            yield


class Ray(Backend):
    name = "ray"

    def serve(self, curriculum: RecordingCurriculum) -> Any:
        return make_ray_curriculum(curriculum, name=f"conformance-{next(_names)}", timeout=scaled(10))

    def env(self, served: Any, env: gym.Env | None = None, **kwargs: Any) -> SyncWrapper:
        return RaySyncWrapper(env or CountingEnv(), curriculum_name=served.name, **kwargs)

    def state(self, served: Any) -> RecordingCurriculum:
        return served.snapshot()  # this process's calls reach the actor in the order they were made

    @contextlib.contextmanager
    def blocked(self, served: Any) -> Iterator[None]:
        import ray
        from ray_fixtures import Signal

        signal = Signal.remote()
        served.actor.__ray_call__.remote(lambda _: ray.get(signal.wait.remote(), timeout=scaled(30)))
        try:
            yield
        finally:
            ray.get(signal.release.remote(), timeout=scaled(10))
            ray.kill(signal)


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    from ray_fixtures import local_ray

    with local_ray():
        yield


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "ray":
        request.getfixturevalue("ray_session")
        return Ray()
    return Direct() if request.param == "direct" else MultiProcessing()


@contextlib.contextmanager
def served(backend: Backend, curriculum: RecordingCurriculum) -> Iterator[Any]:
    handle = backend.serve(curriculum)
    try:
        yield handle
    finally:
        backend.close(handle)


def run_interleaved(envs: list[SyncWrapper], episodes: int) -> Rollouts:
    """Steps every env in turn until each finished ``episodes`` episodes; resets after each episode."""
    rollouts = Rollouts(len(envs))
    for i, env in enumerate(envs):
        rollouts.start(i, env.reset(seed=i)[1]["task"])
    while rollouts.min_episodes() < episodes:
        for i, env in enumerate(envs):
            _, reward, terminated, truncated, _ = env.step(0)
            rollouts.step(i, reward, terminated or truncated)
            if terminated or truncated:
                rollouts.start(i, env.reset()[1]["task"])
    return rollouts


def run_episode(env: SyncWrapper) -> Any:
    """Resets ``env`` and steps it to the episode end; returns the task it ran."""
    task = env.reset()[1]["task"]
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    return task


@contextlib.contextmanager
def takes_about(seconds: float, tolerance: float = 15.0) -> Iterator[None]:
    """Asserts the block ran at least ``seconds`` (the configured wait) and not much longer."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert seconds <= elapsed < seconds + tolerance, f"took {elapsed:.2f} s, expected about {seconds} s"


# ------------------------------------------------------------------------------- exactly once
@pytest.mark.parametrize("step_updates", [False, True], ids=["episode-updates", "step-updates"])
@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_every_task_and_episode_exactly_once(backend, step_updates, prefetch):
    curriculum = RecordingCurriculum(step_updates=step_updates)
    with served(backend, curriculum) as handle:
        envs = [backend.env(handle, env_id=i, prefetch=prefetch, step_batch_size=4) for i in range(3)]
        rollouts = run_interleaved(envs, episodes=12)
        for env in envs:
            env.close()
        state = backend.state(handle)
    check_exactly_once(state, rollouts, step_updates)
    # Tasks are drawn only when needed: the running one plus `prefetch` ahead, per env.
    assert len(state.sampled) <= len(rollouts.delivered) + 3 * (1 + prefetch)


def test_episode_updates_carry_the_return_and_length_the_env_saw(backend):
    curriculum = RecordingCurriculum()
    with served(backend, curriculum) as handle:
        env = backend.env(handle)
        for _ in range(3):
            run_episode(env)
        env.close()
        state = backend.state(handle)
    (episodes,) = state.episodes.values()
    assert [length for _, _, length in episodes] == [3 + task % 5 for task, _, _ in episodes]
    assert all(0 <= ret <= length * 7 / 8 for _, ret, length in episodes)


def test_env_ids_are_assigned_smallest_free_first(backend):
    with served(backend, RecordingCurriculum()) as handle:
        envs = [backend.env(handle) for _ in range(3)]
        for env in envs:
            env.reset()
        assert [env.env_id for env in envs] == [0, 1, 2]
        envs[1].close()
        again = backend.env(handle)
        again.reset()
        assert again.env_id == 1
        for env in (envs[0], envs[2], again):
            env.close()


# ------------------------------------------------------------------------------ duplicate ids
def test_duplicate_env_id_is_refused_draws_nothing_and_frees_nothing(backend):
    curriculum = RecordingCurriculum()
    with served(backend, curriculum) as handle:
        first = backend.env(handle, env_id=0, prefetch=2)
        first.reset()
        duplicate = backend.env(handle, env_id=0, prefetch=2)
        with pytest.raises(CurriculumError, match="env_id 0 is already connected"):
            duplicate.reset()
        duplicate.close()
        with pytest.raises(CurriculumError, match="env_id 0 is already connected"):
            backend.env(handle, env_id=0).reset()  # closing the refused env did not free id 0
        run_episode(first)
        first.close()
        state = backend.state(handle)
    # Only the first env drew tasks: 1 + prefetch at its first reset, one to refill at the second
    # reset (no episode ended in between), one at the episode end.
    assert state.sampled == list(range(3 + 1 + 1))
    assert list(state.episodes) == [0]


def test_id_is_free_again_after_the_holder_closes(backend):
    with served(backend, RecordingCurriculum()) as handle:
        first = backend.env(handle, env_id=5)
        first.reset()
        first.close()
        second = backend.env(handle, env_id=5)
        assert second.reset()[1]["task"] is not None
        assert second.env_id == 5
        second.close()


# --------------------------------------------------------------------------------------- close
def test_close_handles_every_update_already_sent(backend, tmp_path):
    journal = str(tmp_path / "journal")
    handle = backend.serve(RecordingCurriculum(journal=journal))
    try:
        env = backend.env(handle, env_id=0, prefetch=8)  # 8 tasks ahead: no reset waits below
        tasks = [run_episode(env) for _ in range(8)]
    finally:
        backend.close(handle)  # before the env: its updates are still in flight
    assert [task for task, _, _ in read_journal(journal)[0]] == tasks
    if backend.has_peer:
        with pytest.raises(CurriculumConnectionError):
            for _ in range(20):  # the tasks it holds run out, then it needs the curriculum
                run_episode(env)
    env.close()  # the curriculum is gone: closing still works


def test_close_is_idempotent_and_a_context_manager(backend):
    if backend.name == "direct":
        pytest.skip("the in-process backend serves the curriculum itself: nothing to close")
    wrapper = backend.learner(backend.serve(RecordingCurriculum()))
    with wrapper as entered:
        assert entered is wrapper
    wrapper.close()


# ------------------------------------------------------------------------------ errors travel
def test_curriculum_exception_reaches_env_and_learner(backend):
    with served(backend, RecordingCurriculum(fail_on_episode=True)) as handle:
        env = backend.env(handle, prefetch=0)
        run_episode(env)  # its update raises in the curriculum
        with pytest.raises(CurriculumError, match="update_on_episode exploded on purpose"):
            env.reset()
        other = backend.env(handle)
        with pytest.raises(CurriculumError, match="update_on_episode exploded on purpose"):
            other.reset()  # every later request gets the same failure
        if backend.has_peer:  # in-process, the learner calls the curriculum itself
            with pytest.raises(CurriculumError, match="(?s)raised while serving env 0.*exploded on purpose"):
                backend.learner(handle).sample()
        env.close()
        other.close()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("fail_on_sample", "sample exploded on purpose"),
        ("out_of_space", r"sampled task -1, which is not in"),
        ("short_sample", r"sample_with_metadata\(2\) returned 0 tasks"),
    ],
)
def test_bad_samples_are_errors_not_hangs(backend, kind, message):
    with served(backend, RecordingCurriculum(**{kind: True})) as handle:
        env = backend.env(handle, timeout=scaled(30), prefetch=1)
        start = time.monotonic()
        with pytest.raises(CurriculumError, match=message):
            env.reset()
        assert time.monotonic() - start < scaled(10), "the error must not wait for the timeout"
        env.close()


# ------------------------------------------------------------------------------------ timeouts
def test_blocked_curriculum_times_out_after_the_configured_wait(backend):
    if not backend.has_peer:
        pytest.skip("in-process: the curriculum answers every request as it is made")
    wait = scaled(0.5)
    with served(backend, RecordingCurriculum()) as handle:
        env = backend.env(handle, timeout=wait)
        with (
            backend.blocked(handle),
            takes_about(wait, tolerance=scaled(15)),
            pytest.raises(CurriculumTimeoutError, match=f"within {wait:g} s"),
        ):
            env.reset()
        assert env.reset()[1]["task"] == 0  # the requests sent before the timeout were answered
        env.close()


def test_missing_curriculum_is_a_connection_error(backend):
    if not backend.has_peer:
        pytest.skip("in-process: the curriculum is the object the env holds")
    handle = backend.serve(RecordingCurriculum())
    backend.close(handle)
    env = backend.env(handle, timeout=scaled(30))
    start = time.monotonic()
    with pytest.raises(CurriculumConnectionError):
        env.reset()
    assert time.monotonic() - start < scaled(10), "a missing peer must not wait for the timeout"
    env.close()


def test_task_outside_the_env_space_is_an_error(backend):
    with served(backend, RecordingCurriculum()) as handle:
        env = backend.env(handle, CountingEnv(DiscreteTaskSpace(1)), timeout=scaled(10))
        env.reset()  # task 0 fits
        with pytest.raises(TaskSpaceError, match=r"task 1 is not in DiscreteTaskSpace\(1\)"):
            env.reset()
        env.close()


# ------------------------------------------------------------------------------------- learner
def test_learner_calls_go_through(backend):
    curriculum = RecordingCurriculum()
    with served(backend, curriculum) as handle:
        learner = backend.learner(handle)
        learner.custom_update(np.arange(3), scores=[1.0])
        assert learner.echo({"a": 1}) == {"a": 1}  # curriculum-specific methods too
        assert learner.sample(2) == [0, 1]
        learner.update_on_episode(1.5, 3, 0, env_id=9)
        assert learner.task_space == TASK_SPACE
        state = backend.state(handle)
    ((args, kwargs),) = state.custom
    assert args[0].tolist() == [0, 1, 2] and kwargs == {"scores": [1.0]}
    assert state.episodes[9] == [(0, 1.5, 3)]


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefetch": -1}, "prefetch must be an integer >= 0, got -1"),
        ({"prefetch": 1.5}, "prefetch must be an integer >= 0, got 1.5"),
        ({"step_batch_size": 0}, "step_batch_size must be an integer >= 1, got 0"),
        ({"env_id": -2}, "env_id must be an integer >= 0, got -2"),
        ({"env_id": "a"}, "env_id must be an integer >= 0, got 'a'"),
        ({"timeout": 0}, "timeout must be a finite number of seconds > 0, got 0"),
        ({"timeout": float("nan")}, "timeout must be a finite number of seconds > 0, got nan"),
        ({"timeout": float("inf")}, "timeout must be a finite number of seconds > 0, got inf"),
    ],
)
def test_bad_wrapper_arguments_are_refused_by_name(backend, kwargs, message):
    if backend.name == "direct" and "timeout" in kwargs:
        pytest.skip("the in-process wrapper takes no timeout")
    with (
        served(backend, RecordingCurriculum()) as handle,
        pytest.raises(ValueError, match=re.escape(message)),
    ):
        backend.env(handle, **kwargs)


def test_env_without_the_task_interface_is_refused(backend):
    with served(backend, RecordingCurriculum()) as handle:
        with pytest.raises(TaskInterfaceError, match="new_task"):
            backend.env(handle, gym.make("CartPole-v1"))
        with pytest.raises(TaskInterfaceError, match="no TaskEnv or TaskWrapper"):
            backend.env(handle, gym.wrappers.RecordEpisodeStatistics(gym.make("CartPole-v1")))


class _Negated(gym.ObservationWrapper):
    """A plain gymnasium wrapper: its reset takes no new_task, and passes options on."""

    def observation(self, observation):
        return -observation


def test_tasks_reach_the_task_env_through_a_gymnasium_wrapper(backend):
    with served(backend, RecordingCurriculum()) as handle:
        task_env = CountingEnv()
        env = backend.env(handle, gym.wrappers.RecordEpisodeStatistics(_Negated(task_env)))
        episodes, delivered = run_episodes(env, 4)
        env.close()
        state = backend.state(handle)
    assert task_env.task == delivered[-1]
    assert [length for _, _, length in episodes] == [3 + task % 5 for task in delivered]
    (received,) = state.episodes.values()
    assert [task for task, _, _ in received] == delivered


@pytest.mark.parametrize("bad", [object(), "plr", DomainRandomization], ids=["object", "str", "class"])
def test_non_curriculum_is_refused_by_name(backend, bad):
    with pytest.raises(TypeError, match="curriculum must be a syllabus Curriculum"):
        if backend.name == "direct":
            DirectSyncWrapper(CountingEnv(), bad)
        else:
            backend.serve(bad)


def test_serving_a_served_curriculum_is_refused(backend):
    if backend.name == "direct":
        pytest.skip("the in-process backend serves nothing")
    with served(backend, RecordingCurriculum()) as handle:
        with pytest.raises(TypeError, match="already serves: pass the curriculum itself"):
            backend.serve(backend.learner(handle))
