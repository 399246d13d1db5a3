"""Multiprocessing synchronization: exactly-once delivery under every vector env and start method,
handles that survive SB3 and gymnasium pickling, dead env processes, and nothing left behind after
close or Ctrl-C. What every backend must do is in test_sync_conformance.py."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
from functools import partial

import gymnasium as gym
import pytest
from process_resources import has_exited, shared_memory_of
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from sync_fixtures import (
    CountingEnv,
    RecordingCurriculum,
    Rollouts,
    check_exactly_once,
    make_counting_env,
    process_worker,
    run_episodes,
    run_gymnasium_vector,
    run_sb3_vector,
)
from timeouts import scaled

from syllabus.core import (
    CurriculumError,
    CurriculumTimeoutError,
    MultiProcessingSyncWrapper,
    make_multiprocessing_curriculum,
)

pytestmark = pytest.mark.timeout(60)

NUM_ENVS = 4
EPISODES = 25
START_METHODS = ["fork", "forkserver", "spawn"]


def sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "syllabus-curriculum-sync"]


def assert_closed(curriculum) -> None:
    assert not sync_threads(), "the sync thread is still running"
    assert not os.path.exists(os.path.dirname(curriculum.task_queue.address)), "the socket directory is left"


def factories(task_queue, update_queue, **kwargs):
    return [partial(make_counting_env, task_queue, update_queue, env_id=i, **kwargs) for i in range(NUM_ENVS)]


def check_vector_env(make_venv, run, step_updates: bool, **env_kwargs) -> None:
    """Runs EPISODES per env through a synced vector env and checks exactly-once delivery and cleanup."""
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum(step_updates))
    with curriculum:
        venv = make_venv(factories(task_queue, update_queue, **env_kwargs))
        try:
            rollouts = run(venv, EPISODES)
        finally:
            venv.close()
    check_exactly_once(curriculum.curriculum, rollouts, step_updates)
    assert_closed(curriculum)


@pytest.mark.slow
@pytest.mark.parametrize("step_updates", [False, True], ids=["episode-updates", "step-updates"])
@pytest.mark.parametrize("context", START_METHODS)
def test_gymnasium_async_vector_env_exactly_once(context, step_updates):
    make_venv = partial(gym.vector.AsyncVectorEnv, context=context)
    check_vector_env(make_venv, run_gymnasium_vector, step_updates, step_batch_size=4)


@pytest.mark.parametrize("step_updates", [False, True], ids=["episode-updates", "step-updates"])
def test_gymnasium_sync_vector_env_exactly_once(step_updates):
    check_vector_env(gym.vector.SyncVectorEnv, run_gymnasium_vector, step_updates)


@pytest.mark.slow
@pytest.mark.parametrize("start_method", [None, *START_METHODS], ids=["default", *START_METHODS])
def test_sb3_subproc_vec_env_exactly_once(start_method):
    check_vector_env(partial(SubprocVecEnv, start_method=start_method), run_sb3_vector, step_updates=True)


def test_sb3_dummy_vec_env_exactly_once():
    check_vector_env(DummyVecEnv, run_sb3_vector, step_updates=False)


@pytest.mark.slow
@pytest.mark.parametrize("context", START_METHODS)
def test_hand_written_processes_many_episodes(context):
    """16 env processes x 1,000 episodes each: no update lost or duplicated, every start method."""
    num_envs, episodes = 16, 1000
    ctx = multiprocessing.get_context(context)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    results = ctx.Queue()
    with curriculum:
        workers = [
            ctx.Process(target=process_worker, args=(task_queue, update_queue, i, episodes, results))
            for i in range(num_envs)
        ]
        for worker in workers:
            worker.start()
        reports = [results.get(timeout=scaled(45)) for _ in workers]
        for worker in workers:
            worker.join(timeout=scaled(10))
            assert worker.exitcode == 0
    rollouts = Rollouts(num_envs)
    for env_id, observed, delivered in reports:
        rollouts.episodes[env_id] = observed
        rollouts.delivered.extend(delivered)
    check_exactly_once(curriculum.curriculum, rollouts, step_updates=False)
    assert sum(len(e) for e in curriculum.curriculum.episodes.values()) == num_envs * episodes
    assert_closed(curriculum)


def test_prefetch_keeps_a_task_ready_and_bounds_the_backlog():
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    with curriculum:
        env = MultiProcessingSyncWrapper(CountingEnv(), task_queue, update_queue, prefetch=2)
        run_episodes(env, 1)
        # One task in use, two kept ready: resets that pass their own task consume nothing more.
        for _ in range(50):
            env.reset(new_task=7)
            while not env.step(0)[2]:
                pass
        env.close()
    assert len(curriculum.curriculum.sampled) <= 1 + 1 + 2


@pytest.mark.slow
def test_learner_calls_and_env_updates_interleave_safely():
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    with curriculum:
        venv = gym.vector.AsyncVectorEnv(factories(task_queue, update_queue), context="fork")
        stop = threading.Event()

        def learner_updates():
            while not stop.is_set():
                curriculum.custom_update()

        learner = threading.Thread(target=learner_updates)
        learner.start()
        try:
            rollouts = run_gymnasium_vector(venv, 10)
        finally:
            stop.set()
            learner.join()
            venv.close()
    check_exactly_once(curriculum.curriculum, rollouts, step_updates=False)
    assert curriculum.curriculum.custom


# ----------------------------------------------------------------------------- bad input


def test_handles_must_come_from_make_multiprocessing_curriculum():
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    other, other_tasks, other_updates = make_multiprocessing_curriculum(RecordingCurriculum())
    with curriculum, other:
        with pytest.raises(TypeError, match="task_queue must be the TaskQueue"):
            MultiProcessingSyncWrapper(CountingEnv(), multiprocessing.Queue(), update_queue)
        with pytest.raises(ValueError, match="different make_multiprocessing_curriculum calls"):
            MultiProcessingSyncWrapper(CountingEnv(), task_queue, other_updates)


def test_curriculum_never_started_times_out_with_advice():
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum(), start=False)
    with curriculum:
        env = MultiProcessingSyncWrapper(CountingEnv(), task_queue, update_queue, timeout=0.3)
        with pytest.raises(CurriculumTimeoutError, match=r"did not answer.*start\(\)"):
            env.reset()
        env.close()


def test_curriculum_raising_in_sample_reaches_env_and_learner():
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(
        RecordingCurriculum(fail_on_sample=True)
    )
    with curriculum:
        venv = gym.vector.AsyncVectorEnv(
            factories(task_queue, update_queue, timeout=scaled(10)), context="forkserver"
        )
        try:
            with pytest.raises(Exception, match="sample exploded on purpose"):
                venv.reset()
        finally:
            venv.close(terminate=True)
        with pytest.raises(CurriculumError, match=r"(?s)Traceback.*RuntimeError: sample exploded on purpose"):
            curriculum.metrics()
    assert_closed(curriculum)


# ------------------------------------------------------------------- failures and shutdown


def blocking_worker(task_queue, update_queue, env_id: int, ran_episodes) -> None:
    """Runs two episodes, says so, then waits to be killed."""
    env = make_counting_env(task_queue, update_queue, env_id=env_id)
    run_episodes(env, 2)
    ran_episodes.set()
    threading.Event().wait()


@pytest.mark.slow
def test_killed_env_process_is_forgotten_and_others_go_on():
    ctx = multiprocessing.get_context("forkserver")
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    with curriculum:
        ran_episodes = ctx.Event()
        victim = ctx.Process(target=blocking_worker, args=(task_queue, update_queue, 0, ran_episodes))
        victim.start()
        assert ran_episodes.wait(timeout=scaled(30))
        victim.kill()
        victim.join(timeout=scaled(10))
        # The killed env's id is free again and the curriculum still serves new envs.
        env = make_counting_env(task_queue, update_queue, env_id=0, timeout=scaled(10))
        episodes, _ = run_episodes(env, 3)
        env.close()
    assert curriculum.curriculum.episodes[0][2:] == episodes
    assert len(curriculum.curriculum.episodes[0]) == 5
    assert_closed(curriculum)


CTRL_C_SCRIPT = """
import faulthandler, json, os, sys
from functools import partial
import gymnasium as gym
sys.path.insert(0, {tests_dir!r})
from sync_fixtures import RecordingCurriculum, make_counting_env, run_gymnasium_vector
from syllabus.core import make_multiprocessing_curriculum

if __name__ == "__main__":
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(RecordingCurriculum())
    venv = gym.vector.AsyncVectorEnv([partial(make_counting_env, task_queue, update_queue)] * 2, context="forkserver")
    venv.reset()
    socket_dir = os.path.dirname(task_queue.address)
    try:  # from the ready line on: the test's Ctrl-C may land right after it, before the training loop
        print(json.dumps({{"socket_dir": socket_dir, "workers": [p.pid for p in venv.processes]}}), flush=True)
        run_gymnasium_vector(venv, 10**9)  # until Ctrl-C
    except KeyboardInterrupt:
        # Should the way out hang (the open defect below), every thread's stack goes to stderr and the
        # script exits: the test then reports where it hung.
        faulthandler.dump_traceback_later({dump_after}, exit=True)
        raise
    finally:
        # gymnasium's own advice. Left to `__del__` at exit, close() may wait forever for an error its
        # workers never sent: multiprocessing's exit handler terminates them first (a gymnasium race,
        # about 1 run in 100 under load). The curriculum is left to Syllabus's exit handlers.
        venv.close()
"""


# In the whole slow tier under CI the script twice failed to exit within 60 s after Ctrl-C (never in
# 300+ runs of this module or of the script alone). One stack taken of such a hang was in gymnasium's
# AsyncVectorEnv close (error_queue.get() without a timeout). In two later slow tiers it hung for the
# test's whole 30 s without the stack dump the script arms on KeyboardInterrupt: the Ctrl-C had landed
# between the ready line and the `try`, so close() was left to exit time. The ready line is now inside
# the `try`; whether that was the only way in is not known yet, so the test stays xfail(strict=False).
@pytest.mark.xfail(
    reason="rare hang at exit in gymnasium's AsyncVectorEnv close after Ctrl-C (open)", strict=False
)
@pytest.mark.slow
def test_ctrl_c_leaves_no_process_socket_or_shared_memory(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(CTRL_C_SCRIPT.format(tests_dir=os.path.dirname(__file__), dump_after=scaled(10)))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    ready = None
    try:
        ready = json.loads(proc.stdout.readline())
        shared_memory = shared_memory_of(proc.pid)  # only this run's segments, not the machine's
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
        _, stderr = proc.communicate(timeout=scaled(30))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=scaled(10))
            if ready is not None:  # killed, it could not remove its socket directory
                shutil.rmtree(ready["socket_dir"], ignore_errors=True)
    if "Timeout (" in stderr:  # faulthandler's dump: the script hung on its way out
        pytest.xfail(f"the script hung after Ctrl-C; its threads' stacks:\n{stderr[-6000:]}")
    assert "KeyboardInterrupt" in stderr
    assert not os.path.exists(ready["socket_dir"])
    for pid in ready["workers"]:
        assert has_exited(pid)
    # Only the segments this run had mapped, and multiprocessing's arenas named after its processes.
    pids = [proc.pid, *ready["workers"]]
    left = [path for path in shared_memory if os.path.exists(path)]
    left += [name for name in os.listdir("/dev/shm") if any(name.startswith(f"pym-{pid}-") for pid in pids)]
    assert not left, f"shared memory left behind: {left}"
