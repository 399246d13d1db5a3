"""Vector envs whose env failures stop the run at once, with one message naming the env and the cause.

SB3's ``SubprocVecEnv`` waits on its worker pipes without a bound: a worker that dies (SIGKILL, OOM)
or raises leaves the learner blocked in ``step_wait`` or ``close`` while the other workers wait for
commands, and an env that fails while it is built surfaces as a bare ``EOFError`` or
``ConnectionResetError``. [`GuardedSubprocVecEnv`][syllabus.cli.vec_env_faults.GuardedSubprocVecEnv] runs SB3's own worker loop inside a guard
that sends the worker's exception and traceback to the learner, and waits on each pipe together
with the worker's process sentinel, so a death is seen the moment it happens. In-process and Ray
envs get the same message from [`guard_env_fns`][syllabus.cli.vec_env_faults.guard_env_fns], which names the env index in the error of a
failing env.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env import SubprocVecEnv
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnv
from stable_baselines3.common.vec_env.subproc_vec_env import _worker

CLOSE_TIMEOUT = 10.0  # seconds close() gives the workers to close their envs before terminating them
BUILD_TIMEOUT = 300.0  # seconds a live worker may take to start and build its env (spawn imports torch anew)
_WORKER_ERROR = "__syllabus_env_worker_error__"


class EnvWorkerError(RuntimeError):
    """An env failed: its worker process died or the env raised. The message names the env and the cause.

    Attributes:
        index: The env's index in the vector env.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:  # pickled from Ray actors and worker processes
        return type(self), (str(self), self.index)


def describe_exit(exitcode: int | None) -> str:
    """A process's end in words: ``killed by SIGKILL``, ``exited with code 3``."""
    if exitcode is None:
        return "is unresponsive"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def _raised(index: int, exc: BaseException, where: str) -> EnvWorkerError:
    text = "".join(traceback.format_exception(exc)).rstrip()
    return EnvWorkerError(f"env {index} raised {type(exc).__name__} {where}: {exc}\n{text}", index)


# ------------------------------------------------------------------ worker processes


def _guarded_worker(
    remote: Connection, parent_remote: Connection, env_fn_wrapper: CloudpickleWrapper, index: int
) -> None:
    """SB3's worker loop; an exception (building or stepping the env) goes to the learner with its traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the learner alone handles Ctrl-C and closes workers
    try:
        _worker(remote, parent_remote, env_fn_wrapper)
    except BaseException as exc:  # noqa: BLE001 - reported to the learner, which stops the run
        text = "".join(traceback.format_exception(exc)).rstrip()
        try:
            remote.send((_WORKER_ERROR, type(exc).__name__, str(exc), text))
        except OSError:
            pass  # the learner is gone
        raise SystemExit(1) from None


class _GuardedRemote:
    """The learner's end of one worker pipe: every wait is bounded and watches the worker's process."""

    def __init__(self, conn: Connection, process: Any, index: int, timeout: float) -> None:
        self.conn = conn
        self.process = process
        self.index = index
        self.timeout = timeout

    def send(self, message: Any) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise self._died() from None

    def recv(self, timeout: float | None = None) -> Any:
        limit = self.timeout if timeout is None else timeout
        ready = wait([self.conn, self.process.sentinel], limit)
        if not ready:
            raise EnvWorkerError(
                f"env {self.index} (worker process {self.process.pid}) did not answer within {limit:g} s; "
                "raise sync.timeout if the env is only slow",
                self.index,
            )
        if self.conn not in ready and not self.conn.poll():
            raise self._died()
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if isinstance(message, tuple) and len(message) == 4 and message[0] == _WORKER_ERROR:
            _, kind, text, trace = message
            self.process.join(CLOSE_TIMEOUT)
            raise EnvWorkerError(
                f"env {self.index} raised {kind} in its worker process: {text}\n{trace}", self.index
            )
        return message

    def _died(self) -> EnvWorkerError:
        self.process.join(CLOSE_TIMEOUT)  # the pipe broke: the process is ending
        return EnvWorkerError(
            f"env {self.index} died: its worker process {self.process.pid} {describe_exit(self.process.exitcode)}",
            self.index,
        )

    def close(self) -> None:
        self.conn.close()


class GuardedSubprocVecEnv(SubprocVecEnv):
    """SB3 ``SubprocVecEnv`` that stops with [`EnvWorkerError`][syllabus.cli.vec_env_faults.EnvWorkerError] when a worker dies, raises or hangs.

    A worker's exception (also while its env is built) arrives with its traceback; a worker killed by
    a signal is named with the signal; a live worker silent for ``timeout`` seconds is named too. ``close``
    is bounded: workers that do not close within [`CLOSE_TIMEOUT`][syllabus.cli.vec_env_faults.CLOSE_TIMEOUT] are terminated, then killed.

    Args:
        env_fns: Env factories, one per worker process.
        start_method: ``fork``, ``forkserver`` or ``spawn`` (``None``: SB3's default).
        timeout: Seconds a step, reset or other call may wait for a live worker (building the env may take
            up to [`BUILD_TIMEOUT`][syllabus.cli.vec_env_faults.BUILD_TIMEOUT]). A worker that dies is noticed at once, whatever the timeout.
    """

    def __init__(
        self, env_fns: Sequence[Callable[[], gym.Env]], start_method: str | None = None, *, timeout: float
    ) -> None:
        self.waiting = False
        self.closed = False
        ctx = mp.get_context(start_method)
        pipes = [ctx.Pipe() for _ in env_fns]
        self.processes = []
        remotes = []
        try:
            for index, ((conn, work_remote), env_fn) in enumerate(zip(pipes, env_fns, strict=True)):
                args = (work_remote, conn, CloudpickleWrapper(env_fn), index)
                process = ctx.Process(target=_guarded_worker, args=args, daemon=True)  # type: ignore[attr-defined]
                process.start()
                self.processes.append(process)
                work_remote.close()
                remotes.append(_GuardedRemote(conn, process, index, timeout))
            self.remotes = remotes
            self.work_remotes = ()
            # Every worker reports that its env was built (or why not), so a failure names its own env.
            for remote in remotes:
                remote.send(("get_spaces", None))
            spaces = [remote.recv(max(timeout, BUILD_TIMEOUT)) for remote in remotes]
        except BaseException:
            self._stop_workers()
            raise
        VecEnv.__init__(self, len(env_fns), *spaces[0])

    def step_wait(self) -> Any:
        """Waits for every worker's step; a failed worker raises [`EnvWorkerError`][syllabus.cli.vec_env_faults.EnvWorkerError]."""
        try:
            return super().step_wait()
        finally:
            self.waiting = False  # a failed step leaves nothing to collect in close()

    def close(self) -> None:
        """Closes the envs, then ends every worker within a bounded time. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._stop_workers()

    def _stop_workers(self) -> None:
        deadline = time.monotonic() + CLOSE_TIMEOUT
        remotes: list[_GuardedRemote] = list(self.remotes) if hasattr(self, "remotes") else []
        for remote in remotes:
            if remote.process.is_alive():
                try:
                    if self.waiting:
                        remote.recv(max(deadline - time.monotonic(), 0.0))
                    remote.send(("close", None))
                except EnvWorkerError:
                    pass  # it is stopped below
        self.waiting = False
        for process in self.processes:
            process.join(max(deadline - time.monotonic(), 0.0))
        for stop in ("terminate", "kill"):
            alive = [p for p in self.processes if p.is_alive()]
            for process in alive:
                getattr(process, stop)()
            for process in alive:
                process.join(CLOSE_TIMEOUT)
        for remote in remotes:
            remote.close()


# ----------------------------------------------------------- in-process and Ray envs


class _EnvErrorWrapper(gym.Wrapper):
    """Names the env index in any exception its env raises (envs of ``DummyVecEnv`` and Ray actors)."""

    def __init__(self, env: gym.Env, index: int) -> None:
        super().__init__(env)
        self._index = index

    def reset(self, **kwargs: Any) -> Any:
        try:
            return self.env.reset(**kwargs)
        except Exception as exc:
            raise _raised(self._index, exc, "in reset") from None

    def step(self, action: Any) -> Any:
        try:
            return self.env.step(action)
        except Exception as exc:
            raise _raised(self._index, exc, "in step") from None


def _guarded_env(env_fn: Callable[[], gym.Env], index: int) -> gym.Env:
    try:
        env = env_fn()
    except Exception as exc:
        raise _raised(index, exc, "while it was built") from None
    return _EnvErrorWrapper(env, index)


def guard_env_fns(env_fns: Sequence[Callable[[], gym.Env]]) -> list[Callable[[], gym.Env]]:
    """Env factories whose envs raise [`EnvWorkerError`][syllabus.cli.vec_env_faults.EnvWorkerError] naming their index when they fail."""
    return [partial(_guarded_env, env_fn, index) for index, env_fn in enumerate(env_fns)]
