"""The README's own integration pattern, and gymnasium's vector env, keep the library's promise: a
failing curriculum never hangs the learner.

With SB3's plain ``SubprocVecEnv``, a curriculum that raises leaves the learner blocked (in
``step_wait`` under fork, in ``close`` under forkserver). The README's pattern uses
``GuardedSubprocVecEnv``; here its curriculum raises mid-training under every start method, and the
learner gets one ``EnvWorkerError`` naming the env and the curriculum's error, within the timeout.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
from timeouts import scaled

from syllabus.core import EnvWorkerError, MultiProcessingSyncWrapper, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv
from syllabus.task_space import BoxTaskSpace

NUM_ENVS = 3


class RaisingCurriculum(DomainRandomization):
    """Domain Randomization that raises at its ``fail_at``-th sample."""

    def __init__(self, *args, fail_at: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.samples = 0
        self.fail_at = fail_at

    def sample(self, k: int = 1):
        self.samples += 1
        if self.samples >= self.fail_at:
            raise RuntimeError("injected curriculum fault")
        return super().sample(k)


def make_env(task_queue, update_queue):  # runs in each env process, as in the README
    return MultiProcessingSyncWrapper(make_cartpole(), task_queue, update_queue)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_readme_pattern_with_a_raising_curriculum_fails_within_the_timeout(start_method):
    curriculum = RaisingCurriculum(BoxTaskSpace(0.01, 0.2, shape=()), fail_at=12)
    timeout = scaled(20)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(curriculum, timeout=timeout)
    with curriculum:
        venv = GuardedSubprocVecEnv(
            [lambda: make_env(task_queue, update_queue)] * NUM_ENVS, start_method, timeout=timeout + 5
        )
        workers = [psutil.Process(p.pid) for p in venv.processes]
        try:
            venv.reset()
            started = time.monotonic()
            with pytest.raises(EnvWorkerError, match="injected curriculum fault") as info:
                for _ in range(10_000):  # random CartPole episodes end every ~20 steps, each asks for a task
                    venv.step(np.array([venv.action_space.sample() for _ in range(NUM_ENVS)]))
            elapsed = time.monotonic() - started
        finally:
            closing = time.monotonic()
            venv.close()
            close_time = time.monotonic() - closing
    assert elapsed < timeout + 5, f"the error came {elapsed:.1f} s after the first step"
    assert close_time < scaled(15), f"close() took {close_time:.1f} s"
    assert info.value.index in range(NUM_ENVS)
    assert str(info.value).startswith(f"env {info.value.index} raised")
    _, alive = psutil.wait_procs(workers, timeout=scaled(15))
    assert not alive
    print(f"\n{start_method}: EnvWorkerError after {elapsed:.1f} s, close {close_time:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_gymnasium_async_vector_env_with_a_raising_curriculum_fails_within_the_timeout(start_method):
    """gymnasium's ``AsyncVectorEnv`` forwards a worker's exception itself: the curriculum's error arrives."""
    import gymnasium as gym

    curriculum = RaisingCurriculum(BoxTaskSpace(0.01, 0.2, shape=()), fail_at=12)
    timeout = scaled(20)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(curriculum, timeout=timeout)
    with curriculum:
        venv = gym.vector.AsyncVectorEnv(
            [lambda: make_env(task_queue, update_queue)] * NUM_ENVS, context=start_method
        )
        try:
            venv.reset()
            started = time.monotonic()
            with pytest.raises(Exception, match="injected curriculum fault"):
                for _ in range(10_000):
                    venv.step(np.array([venv.single_action_space.sample() for _ in range(NUM_ENVS)]))
            elapsed = time.monotonic() - started
        finally:
            venv.close(terminate=True)
    assert elapsed < timeout, f"the error came {elapsed:.1f} s after the first step"


GROUP_SIGTERM_SCRIPT = """
import os, signal, sys
import numpy as np
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

received = []
signal.signal(signal.SIGTERM, lambda *_: received.append(signal.SIGTERM))
if __name__ == "__main__":
    venv = GuardedSubprocVecEnv([make_cartpole] * 2, sys.argv[1], timeout=float(sys.argv[2]))
    venv.reset()
    os.killpg(0, signal.SIGTERM)  # as `timeout`, systemd and SLURM stop a job
    for _ in range(50):  # the workers, and forkserver's server, are still there
        venv.step(np.array([venv.action_space.sample() for _ in range(2)]))
    venv.close()
    print("received", received, "exit codes", [p.exitcode for p in venv.processes])
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_sigterm_to_the_process_group_is_left_to_the_learner(tmp_path, start_method):
    """Workers, and forkserver's server (started through ``vfork``, with a reset signal mask), ignore a SIGTERM sent
    to the whole group: the learner alone decides, and closes them as usual."""
    script = tmp_path / "group_sigterm.py"
    script.write_text(GROUP_SIGTERM_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), start_method, str(scaled(20))],
        cwd=tmp_path, capture_output=True, text=True, timeout=scaled(90), start_new_session=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "received [<Signals.SIGTERM: 15>] exit codes [0, 0]", result.stderr
