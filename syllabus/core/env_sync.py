"""Environment side of synchronization, shared by every backend: task prefetch and updates."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, SupportsFloat

import gymnasium as gym

from syllabus.core.checks import check_count, check_seconds
from syllabus.core.curriculum import StepBatch
from syllabus.core.errors import CurriculumError, CurriculumTimeoutError
from syllabus.core.messages import (
    EpisodeUpdate,
    Failure,
    Goodbye,
    Hello,
    StepUpdate,
    TaskRequest,
    Tasks,
    Welcome,
)
from syllabus.core.task_interface import task_reset


class Transport(Protocol):
    """Moves protocol messages between one environment and the curriculum."""

    def send(self, message: Any) -> None:
        """Sends one message; may block while the curriculum side is behind (backpressure).

        Args:
            message: A protocol message to deliver to the other side.
        """

    def recv(self, timeout: float) -> Any:
        """Returns the next reply; raises `TimeoutError` when none came within ``timeout`` seconds.

        Args:
            timeout: Seconds to wait for a message before raising ``TimeoutError``.
        """

    def close(self) -> None:
        """Releases the channel; idempotent."""


class _NotConnected:
    """The transport of a wrapper before its first reset."""

    def send(self, message: Any) -> None:
        raise CurriculumError(
            "call reset() before step(): the env connects to the curriculum at its first reset"
        )

    def recv(self, timeout: float) -> Any:
        raise CurriculumError("call reset() first: the env connects to the curriculum at its first reset")

    def close(self) -> None:
        pass


_NOT_CONNECTED = _NotConnected()


class EnvSession:
    """The environment's side of the protocol, shared by every sync wrapper (single- and multi-agent).

    Connects at the first ``next_task``, keeps ``1 + prefetch`` tasks received or asked for,
    batches step records, and sends one episode update per ``end_episode``.

    Args:
        connect: Opens the backend's channel to the curriculum; called at the first task request.
        env_id: Identifier reported with updates; assigned by the curriculum side when ``None``.
        timeout: Seconds a task request may wait before raising.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Steps per step-update message.
    """

    def __init__(
        self,
        connect: Callable[[], Transport],
        *,
        env_id: int | None = None,
        timeout: float = 60.0,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        prefetch = check_count("prefetch", prefetch, 0)
        step_batch_size = check_count("step_batch_size", step_batch_size, 1)
        timeout = check_seconds("timeout", timeout)
        if env_id is not None:
            env_id = check_count("env_id", env_id, 0)
        self.env_id = env_id
        self.timeout = timeout
        self._step_batch_size = step_batch_size
        self._ready: deque[tuple[Any, dict[str, Any] | None]] = deque()
        self._welcomed = False
        self._send_steps = False
        self._steps: list[tuple] = []
        self._prefetch = prefetch
        self._in_flight = 0
        self._closed = False
        self._connect = connect
        self._transport: Transport = _NOT_CONNECTED

    @property
    def sends_steps(self) -> bool:
        """Whether the curriculum asked for step updates (known after the first task)."""
        return self._send_steps

    def next_task(self, new_task: Any = None) -> tuple[Any, dict[str, Any] | None]:
        """The task of the next episode and its metadata: the next prefetched one, or ``new_task`` when given."""
        if self._transport is _NOT_CONNECTED:
            self._transport = self._connect()
            self._transport.send(Hello(self.env_id, os.getpid()))
            self._request(1 + self._prefetch)
        self._flush_steps()
        if new_task is not None:
            self._wait_until(lambda: self._welcomed)
            return new_task, None
        if not self._tasks_held():  # a second reset since the last episode end, with prefetch=0
            self._request(1)
        self._wait_until(lambda: self._ready)
        task, metadata = self._ready.popleft()
        if self._tasks_held() < self._prefetch:  # resets without episode ends in between
            self._request(self._prefetch - self._tasks_held())
        return task, metadata

    def add_step(self, step: tuple) -> None:
        """Keeps one step record (the fields of a ``StepBatch``); sends a batch when it is full."""
        self._steps.append(step)
        if len(self._steps) >= self._step_batch_size:
            self._flush_steps()

    def end_episode(self, task: Any, episode_return: Any, length: int, progress: Any) -> None:
        """Sends the pending steps and the episode update, which also asks for the next task."""
        self._flush_steps()
        request = self._tasks_held() <= self._prefetch
        self._transport.send(EpisodeUpdate(task, episode_return, length, progress, request))
        self._in_flight += request

    def close(self) -> None:
        """Sends pending updates and says goodbye to the curriculum; idempotent."""
        if not self._closed and self._transport is not _NOT_CONNECTED:
            self._closed = True
            try:
                self._flush_steps()
                self._transport.send(Goodbye())
            except CurriculumError:
                pass  # the curriculum side is already gone: nothing left to tell it
            finally:
                self._transport.close()

    def _tasks_held(self) -> int:
        """Tasks received or asked for and not yet used; never more than ``1 + prefetch``."""
        return len(self._ready) + self._in_flight

    def _request(self, count: int) -> None:
        self._transport.send(TaskRequest(count))
        self._in_flight += count

    def _flush_steps(self) -> None:
        if self._steps:
            batch = StepBatch(*(list(column) for column in zip(*self._steps, strict=True)))
            self._steps = []
            self._transport.send(StepUpdate(batch))

    def _wait_until(self, condition: Callable[[], Any]) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        while not condition():
            try:
                message = self._transport.recv(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise CurriculumTimeoutError(self._timeout_message(time.monotonic() - started)) from None
            self._receive(message)

    def _receive(self, message: Any) -> None:
        if isinstance(message, Tasks):
            self._ready.extend(message.tasks)
            self._in_flight -= len(message.tasks)
        elif isinstance(message, Welcome):
            self.env_id = message.env_id
            self._send_steps = message.requires_step_updates
            self._welcomed = True
        elif isinstance(message, Failure):
            raise CurriculumError(message.message)
        else:
            raise CurriculumError(f"unexpected message from the curriculum: {message!r}")

    def _timeout_message(self, waited: float) -> str:
        """Why the wait for the curriculum ended; ``waited`` is the real time it took (longer than the
        timeout when this process was stopped or starved meanwhile)."""
        env = f"env {self.env_id}" if self.env_id is not None else f"the env in process {os.getpid()}"
        within = f"{self.timeout:g} s"
        if waited > 1.5 * self.timeout + 1.0:  # e.g. SIGSTOP: the timeout alone would understate the wait
            within += f" ({waited:.0f} s passed: was this process stopped or starved of CPU?)"
        if not self._welcomed:
            return (
                f"the curriculum did not answer {env} within {within}. Is it running? "
                "make_*_curriculum(..., start=False) needs curriculum.start(); otherwise the learner process "
                "may be stuck or paused. Raise `timeout` if it is only slow."
            )
        return (
            f"{env} waited {within} for a task: the curriculum is blocked or very slow "
            "(a long custom_update holding it?). Raise `timeout` if this is expected."
        )


class SyncWrapper(gym.Wrapper):
    """Base of the environment sync wrappers: hands the env its tasks and reports its episodes.

    On every ``reset()`` the env gets the next task, sampled ahead of time, and the task is put in
    ``info["task"]`` (its metadata, if any, in ``info["task_metadata"]``). Each episode end sends
    one episode update that also asks for the task after the prefetched ones. Curricula with
    ``requires_step_updates`` also get step results, sent in batches of ``step_batch_size``.

    Args:
        env: A task env (``reset(new_task=...)``), a TaskWrapper, or gymnasium wrappers above either
            (the task then reaches it as ``reset(options={"task": ...})``).
        connect: Opens the backend's channel to the curriculum. Called at the first reset, so an
            env that is built but never reset (like gymnasium's AsyncVectorEnv probe) never connects.
        env_id: Identifier reported with updates; assigned by the curriculum side when ``None``.
        timeout: Seconds a reset may wait for a task before raising.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Steps per step-update message.
    """

    def __init__(
        self,
        env: gym.Env,
        connect: Callable[[], Transport],
        *,
        env_id: int | None = None,
        timeout: float = 60.0,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        reset_into = task_reset(env)
        session = EnvSession(
            connect, env_id=env_id, timeout=timeout, prefetch=prefetch, step_batch_size=step_batch_size
        )
        super().__init__(env)
        self._session = session
        self._reset_into = reset_into
        self._task: Any = None
        self._episode_return = 0.0
        self._episode_length = 0

    @property
    def env_id(self) -> int | None:
        """Identifier reported with updates (assigned at the first reset when not given)."""
        return self._session.env_id

    @property
    def timeout(self) -> float:
        """Seconds a reset may wait for a task before raising."""
        return self._session.timeout

    @property
    def task(self) -> Any:
        """The task of the current episode."""
        return self._task

    @property
    def task_space(self) -> Any:
        """The wrapped environment's task space."""
        return self.env.get_wrapper_attr("task_space")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None):
        """Resets into the next task from the curriculum, or into ``new_task`` when given."""
        new_task, metadata = self._session.next_task(new_task)
        obs, info = self._reset_into(new_task, seed, options)
        self._task = new_task
        self._episode_return = 0.0
        self._episode_length = 0
        info["task"] = new_task
        if metadata is not None:
            info["task_metadata"] = metadata
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Steps the env; at the episode end sends the episode update (and pending step updates)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._episode_return += float(reward)
        self._episode_length += 1
        if self._session.sends_steps:
            self._session.add_step(
                (self._task, obs, reward, terminated, truncated, info, info.get("task_completion"))
            )
        if terminated or truncated:
            self._session.end_episode(
                self._task, self._episode_return, self._episode_length, info.get("task_completion")
            )
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Sends pending updates, says goodbye to the curriculum and closes the env."""
        self._session.close()
        super().close()
