"""A short-lived local Ray for the Ray tests, and env factories that run in Ray actors.

Each Ray test module starts its own Ray (``local_ray``) in a module-scoped fixture, so no Ray
process outlives the module that needed it. Ray workers import this module and ``sync_fixtures``
by name: the tests directory is put on their ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

import psutil
import ray
from process_resources import children_named
from sync_fixtures import CountingEnv, RecordingCurriculum, Rollouts, run_episodes
from timeouts import scaled

from syllabus.core import RaySyncWrapper

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# One token per test process: Ray caches the first token it reads, so every local Ray must share it.
AUTH_TOKEN = secrets.token_hex(16)


def kill_actor_process(actor: Any) -> None:
    """Kills an actor's process and waits until it is gone (``ray.kill`` returns before that)."""
    pid = ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=scaled(10))
    process = psutil.Process(pid)
    process.kill()
    process.wait(timeout=scaled(10))


def ray_processes() -> list[psutil.Process]:
    """Ray's own processes (GCS, raylet, workers) started from this process."""
    return children_named("gcs_server", "raylet", "ray::", "ray/_private")


@contextlib.contextmanager
def local_ray() -> Iterator[None]:
    """Starts a 2-CPU local Ray in a private temporary directory; stops it and checks nothing is left.

    The auth token is given in the environment (``RAY_AUTH_TOKEN``), so Ray writes none under $HOME.
    ``ray.init`` makes SIGTERM raise ``SystemExit`` in this process and ``ray.shutdown`` leaves it so;
    the suite's own handler is put back. Otherwise a process a later test forks (``AsyncVectorEnv``'s
    fork workers) and then terminates can raise ``SystemExit`` past multiprocessing's ``os._exit``
    and go on running the rest of the session as a second pytest.
    """
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_TOKEN", "PYTHONPATH")}
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    os.environ["RAY_AUTH_TOKEN"] = AUTH_TOKEN
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS_DIR, saved["PYTHONPATH"]]))
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths live under it
    try:
        ray.init(
            address="local",  # a new private Ray, even when another one runs on the machine
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=temp_dir,
            logging_level="warning",
        )
        yield
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, saved_sigterm)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp_dir, ignore_errors=True)
    _, alive = psutil.wait_procs(ray_processes(), timeout=scaled(10))
    assert not alive, f"Ray processes left after ray.shutdown(): {alive}"


@ray.remote(num_cpus=0)
class Signal:
    """A flag that Ray processes can wait on: ``wait`` returns once ``release`` was called."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()

    def release(self) -> None:
        self._event.set()


class UnpicklableError(Exception):
    """Cannot be rebuilt from its pickle (its __init__ takes two arguments)."""

    def __init__(self, first: Any, second: Any) -> None:
        super().__init__(f"{first} and {second}")


class StallingCurriculum(RecordingCurriculum):
    """A RecordingCurriculum with methods that block or fail in unusual ways, called by the learner."""

    def stall(self, signal: Any) -> None:
        """Blocks the curriculum actor until ``signal`` is released."""
        ray.get(signal.wait.remote(), timeout=scaled(30))

    def fail_oddly(self) -> None:
        raise UnpicklableError(1, 2)


def make_ray_counting_env(env_id: int | None = None, **kwargs: Any) -> RaySyncWrapper:
    """Env factory: a :class:`CountingEnv` synced with the curriculum actor named ``curriculum``."""
    return RaySyncWrapper(CountingEnv(), env_id=env_id, **kwargs)


@ray.remote(num_cpus=0)
class EnvHolder:
    """A Ray actor holding one synced env, to be killed without closing it."""

    def __init__(self, env_id: int | None, **kwargs: Any) -> None:
        self.env = make_ray_counting_env(env_id, **kwargs)

    def reset(self) -> tuple[int | None, Any]:
        """Resets the env; returns its id and task."""
        _, info = self.env.reset()
        return self.env.env_id, info["task"]


@ray.remote(num_cpus=0)
def run_env_in_task(env_id: int, episodes: int, **kwargs: Any) -> tuple[int, list, list]:
    """A Ray task that runs ``episodes`` episodes of a synced env and reports what it saw."""
    env = make_ray_counting_env(env_id, **kwargs)
    try:
        observed, delivered = run_episodes(env, episodes)
    finally:
        env.close()
    return env_id, observed, delivered


def rollouts_from(reports: list[tuple[int, list, list]]) -> Rollouts:
    """Merges the reports of :func:`run_env_in_task` into one :class:`Rollouts`."""
    rollouts = Rollouts(len(reports))
    for env_id, observed, delivered in reports:
        rollouts.episodes[env_id] = observed
        rollouts.delivered.extend(delivered)
    return rollouts
