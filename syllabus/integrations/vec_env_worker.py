"""The worker process of [`GuardedSubprocVecEnv`][syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv].

It answers the commands of Stable-Baselines3's ``SubprocVecEnv`` (step with auto-reset, reset, render,
close, get_spaces, env_method, get_attr, has_attr, set_attr, is_wrapped) as SB3's own worker loop
does (``is_wrapped`` takes the wrapper class by name), through the env holder of
[`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv]'s actors (``EnvWorker``), and imports
neither SB3 nor torch itself. A
worker then loads only what its env needs: ``syllabus train``'s workers start in a fraction of a
second and hold no torch. (Under forkserver and spawn, multiprocessing also imports your main module
in each worker, and with it whatever that module imports.) An exception, while the env is built or
later, goes to the learner with its traceback before the worker exits.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from syllabus.integrations.ray_env_worker import EnvWorker

WORKER_ERROR = "__syllabus_env_worker_error__"
"""First item of the message a worker sends with its exception."""
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""The signals a worker ignores: the learner handles them and closes the workers."""


class PickledEnvFactory:
    """An env factory pickled with cloudpickle, so lambdas and local functions reach the worker."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __getstate__(self) -> bytes:
        return cloudpickle.dumps(self.factory)

    def __setstate__(self, state: bytes) -> None:
        self.factory = cloudpickle.loads(state)


def run_worker(remote: Connection, parent_remote: Connection, factory: PickledEnvFactory, index: int) -> None:
    """A worker process's life: builds the env, serves the learner's commands until ``close`` or a
    closed pipe; an exception goes to the learner with its traceback, then the process exits with 1."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    parent_remote.close()
    try:
        _serve(remote, EnvWorker(factory.factory, index))
    except BaseException as exc:  # noqa: BLE001 - reported to the learner, which stops the run
        text = "".join(traceback.format_exception(exc)).rstrip()
        try:
            remote.send((WORKER_ERROR, type(exc).__name__, str(exc), text))
        except OSError:
            pass  # the learner is gone
        raise SystemExit(1) from None


def _serve(remote: Connection, worker: EnvWorker) -> None:  # noqa: C901 - one branch per command
    reset_info: dict[str, Any] = {}
    while True:
        try:
            command, data = remote.recv()
        except EOFError:  # the learner closed its end
            return
        if command == "step":
            observation, reward, done, info, new_reset_info = worker.step(data)
            reset_info = reset_info if new_reset_info is None else new_reset_info  # SB3 sends the last one
            remote.send((observation, reward, done, info, reset_info))
        elif command == "reset":
            observation, reset_info = worker.reset(*data)
            remote.send((observation, reset_info))
        elif command == "render":
            remote.send(worker.render())
        elif command == "close":
            worker.close()
            remote.close()
            return
        elif command == "get_spaces":
            remote.send(worker.spaces())
        elif command == "env_method":
            remote.send(worker.env_method(*data))
        elif command == "get_attr":
            remote.send(worker.get_attr(data))
        elif command == "has_attr":
            remote.send(worker.has_attr(data))
        elif command == "set_attr":
            worker.set_attr(*data)
            remote.send(None)
        elif command == "is_wrapped":
            remote.send(worker.is_wrapped(*data))
        else:
            raise NotImplementedError(f"the env worker does not know the command {command!r}")
