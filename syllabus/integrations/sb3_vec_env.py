"""A Stable-Baselines3 ``SubprocVecEnv`` whose env failures stop training at once, naming the env and the cause.

SB3's ``SubprocVecEnv`` waits on its worker pipes without a bound: a worker that dies (SIGKILL, OOM)
or raises (its env, or the curriculum behind a sync wrapper) can leave the learner blocked in
``step_wait`` or ``close`` for ever (under ``fork`` the other workers hold the dead worker's pipe
open), and an env that fails while it is built surfaces as a bare ``EOFError``.
[`GuardedSubprocVecEnv`][syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv] runs workers
([`vec_env_worker`][syllabus.integrations.vec_env_worker]) that answer SB3's commands as SB3's own
worker does, send their exception and traceback to the learner, and do not import SB3 or torch themselves;
it waits on each pipe together with the worker's process sentinel, so a death is seen the moment it
happens. Use it wherever you would use ``SubprocVecEnv``.

Workers ignore SIGINT and SIGTERM: Ctrl-C in a terminal, or a scheduler's SIGTERM to the whole
process group, reaches the learner, which decides (e.g. saves a checkpoint) and closes the workers.

Importing this module imports Stable-Baselines3.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from syllabus.core.errors import EnvWorkerError
from syllabus.integrations.vec_env_worker import STOP_SIGNALS, WORKER_ERROR, PickledEnvFactory, run_worker

DEFAULT_TIMEOUT = 300.0
"""Seconds a step, reset or other call waits for a live worker by default."""
CLOSE_TIMEOUT = 10.0
"""Seconds ``close()`` gives the workers to close their envs before killing them."""
BUILD_TIMEOUT = 300.0
"""Seconds a live worker may take to start and build its env (under spawn it imports the env's modules anew)."""

__all__ = [
    "EnvWorkerError",
    "GuardedSubprocVecEnv",
    "describe_exit",
    "worker_signals_blocked",
]


def describe_exit(exitcode: int | None) -> str:
    """A process's end in words: ``was killed by SIGKILL``, ``exited with code 3``."""
    if exitcode is None:
        return "is unresponsive"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@contextmanager
def worker_signals_blocked() -> Iterator[None]:
    """Shields the processes started in this block from SIGINT and SIGTERM sent to the whole group.

    Both signals are blocked and their disposition set to ignored while the block runs. A process
    started meanwhile inherits the ignored disposition whatever starts it (fork, or exec: forkserver's
    server and spawn's workers, which multiprocessing starts through ``vfork`` with a reset signal mask), so
    a signal sent to the process group before a worker has set its own dispositions cannot end it,
    and forkserver's server never dies of it. The learner's handlers come back at the end of the
    block, and a signal that reached the learner meanwhile stays pending (blocked) until then.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # Ignoring a signal discards it if pending: one that came before the block is delivered first.
    if STOP_SIGNALS & signal.sigpending():
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    previous_handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


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
            raise self._failure() from None

    def recv(self, timeout: float | None = None) -> Any:
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        ready = wait([self.conn, self.process.sentinel], limit)
        if not ready:
            waited = time.monotonic() - started
            passed = f" ({waited:.0f} s passed: was a process stopped?)" if waited > 1.5 * limit + 1.0 else ""
            raise EnvWorkerError(
                f"env {self.index} (worker process {self.process.pid}) did not answer within {limit:g} s{passed}; "
                "raise the timeout (sync.timeout) if the env is only slow",
                self.index,
            )
        if self.conn not in ready and not self.conn.poll():
            raise self._failure()
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            raise self._failure() from None
        error = self._worker_error(message)
        if error is not None:
            raise error
        return message

    def _worker_error(self, message: Any) -> EnvWorkerError | None:
        if not (isinstance(message, tuple) and len(message) == 4 and message[0] == WORKER_ERROR):
            return None
        _, kind, text, trace = message
        self.process.join(CLOSE_TIMEOUT)
        return EnvWorkerError(
            f"env {self.index} raised {kind} in its worker process: {text}\n{trace}", self.index
        )

    def _failure(self) -> EnvWorkerError:
        """Why the pipe broke: the worker's own error when it sent one before it ended, else its death."""
        try:
            while self.conn.poll():
                error = self._worker_error(self.conn.recv())
                if error is not None:
                    return error
        except (EOFError, OSError):
            pass
        self.process.join(CLOSE_TIMEOUT)  # the pipe broke: the process is ending
        return EnvWorkerError(
            f"env {self.index} died: its worker process {self.process.pid} {describe_exit(self.process.exitcode)}",
            self.index,
        )

    def close(self) -> None:
        self.conn.close()


class GuardedSubprocVecEnv(SubprocVecEnv):
    """SB3 ``SubprocVecEnv`` that raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] when a
    worker dies, raises or hangs, instead of blocking.

    A worker's exception (also while its env is built, and a curriculum's error raised in a sync
    wrapper) arrives with its traceback; a worker killed by a signal is named with the signal; a live
    worker silent for ``timeout`` seconds is named too. ``close`` is bounded: workers that do not
    close within [`CLOSE_TIMEOUT`][syllabus.integrations.sb3_vec_env.CLOSE_TIMEOUT] seconds are killed.
    Workers ignore SIGINT and SIGTERM; the learner handles them and closes the workers.

    Args:
        env_fns: Env factories, one per worker process.
        start_method: ``fork``, ``forkserver`` or ``spawn`` (``None``: SB3's default).
        timeout: Seconds a step, reset or other call may wait for a live worker (building the env may
            take up to [`BUILD_TIMEOUT`][syllabus.integrations.sb3_vec_env.BUILD_TIMEOUT]). A worker that
            dies is noticed at once, whatever the timeout.

    Raises:
        EnvWorkerError: From any call, naming the env's index and the cause.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        start_method: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.waiting = False
        self.closed = False
        if start_method is None:  # SB3's default
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(start_method)
        pipes = [ctx.Pipe() for _ in env_fns]
        self.processes = []
        remotes = []
        try:
            for index, ((conn, work_remote), env_fn) in enumerate(zip(pipes, env_fns, strict=True)):
                args = (work_remote, conn, PickledEnvFactory(env_fn), index)
                process = ctx.Process(target=run_worker, args=args, daemon=True)  # type: ignore[attr-defined]
                with worker_signals_blocked():
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

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:
        """Whether each env is wrapped in ``wrapper_class``, as SB3's; the class goes to the workers by
        name, so asking about SB3's ``Monitor`` (as SB3 does) imports neither SB3 nor torch there."""
        remotes = self._get_target_remotes(indices)
        for remote in remotes:
            remote.send(("is_wrapped", (wrapper_class.__module__, wrapper_class.__qualname__)))
        return [remote.recv() for remote in remotes]

    def step_wait(self) -> Any:
        """Waits for every worker's step; a failed worker raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError]."""
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
        alive = [p for p in self.processes if p.is_alive()]
        for process in alive:
            process.kill()  # workers ignore SIGTERM
        for process in alive:
            process.join(CLOSE_TIMEOUT)
        for remote in remotes:
            remote.close()


class FiniteRewardCheck(VecEnvWrapper):
    """Raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming the env whose step returned
    a NaN or infinite reward, before the learner trains on it (and fails later in torch, naming no env).

    Raises:
        EnvWorkerError: From ``step_wait``, naming the first env with a non-finite reward and the value.
    """

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        bad = np.flatnonzero(~np.isfinite(np.asarray(rewards, dtype=np.float64)))
        if bad.size:
            index = int(bad[0])
            raise EnvWorkerError(
                f"env {index} returned a non-finite reward ({float(rewards[index])!r}); check the env's reward",
                index,
            )
        return obs, rewards, dones, infos
