"""The curriculum's side of the sessions with environments, shared by every sync backend.

[`CurriculumDispatcher`][syllabus.core.dispatcher.CurriculumDispatcher] keeps the sessions (hello,
duplicate-id refusal, goodbye, lost connections) and applies the messages of
[`syllabus.core.messages`][syllabus.core.messages] to a curriculum; backends only move messages and
tell it which session each came from.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Hashable
from typing import Any

from syllabus.core.curriculum import Curriculum
from syllabus.core.errors import CurriculumError
from syllabus.core.messages import (
    HOST,
    EpisodeUpdate,
    Failure,
    Goodbye,
    Hello,
    StepUpdate,
    TaskRequest,
    Tasks,
    Welcome,
)

logger = logging.getLogger(__name__)


class CurriculumDispatcher:
    """Keeps the environments' sessions and applies their messages to a curriculum, serialized by ``lock``.

    Every backend feeds each message to `receive` with a key naming the env's session (its
    connection, its channel); sessions are the one place where hello, duplicate-id refusal and
    goodbye are decided, so all backends behave alike. A session refused at hello gets its
    `Failure` reply and nothing else: its later messages are ignored, it draws no tasks,
    and its goodbye frees no id.

    The first exception raised by the curriculum is kept: every later task request is answered
    with the same `Failure`, and `raise_if_failed` re-raises it on the learner side.

    Args:
        curriculum: The curriculum that receives updates and samples tasks.
        lock: Lock shared with the learner-side wrapper, so learner calls and env updates never interleave.
    """

    def __init__(self, curriculum: Curriculum, lock: threading.RLock) -> None:
        self.curriculum = curriculum
        self.lock = lock
        self.failure: str | None = None
        self._sessions: dict[Hashable, int | None] = {}  # session -> env id; None: refused at hello
        self._holders: dict[int, Hello] = {}  # env id -> the hello of the session holding it

    def receive(self, session: Hashable, message: Any) -> Welcome | Tasks | Failure | None:
        """Applies one message of ``session`` and returns the reply to send back, if any.

        Args:
            session: Key of the connection the message arrived on (one per env).
            message: The protocol message received.
        """
        if isinstance(message, Hello):
            return self._hello(session, message)
        if isinstance(message, Goodbye):
            self.end(session)
            return None
        env_id = self._sessions.get(session)
        if env_id is None:
            if session in self._sessions:
                return None  # refused at hello and told why; ignore the rest until it closes
            return Failure(f"the env sent {type(message).__name__} before Hello (or after Goodbye)")
        return self.handle(env_id, message)

    def end(self, session: Hashable, lost: bool = False) -> int | None:
        """Ends ``session`` (goodbye, or ``lost`` connection); frees its env id and returns it.

        Args:
            session: Key of the connection that ended.
            lost: True when the connection broke without a goodbye (the env died).
        """
        with self.lock:
            env_id = self._sessions.pop(session, None)
            if env_id is not None:
                del self._holders[env_id]
        if lost and env_id is not None:
            logger.warning(
                "env %s disconnected from the curriculum without closing (its process died?)", env_id
            )
        return env_id

    def _hello(self, session: Hashable, hello: Hello) -> Welcome | Failure:
        """Registers an environment; assigns the smallest free id when it did not bring one."""
        with self.lock:
            if session in self._sessions:
                return Failure(f"env {self._sessions[session]} said hello twice")
            env_id = hello.env_id
            if env_id is None:
                env_id = next(i for i in range(len(self._holders) + 1) if i not in self._holders)
            elif env_id in self._holders and not self._free_if_dead(env_id):
                self._sessions[session] = None
                holder = self._holders[env_id]
                return Failure(
                    f"env_id {env_id} is already connected to the curriculum (process {holder.pid} on "
                    f"{holder.host}); env ids must be unique: give each env its own, or None to have one assigned"
                )
            self._sessions[session] = env_id
            self._holders[env_id] = hello
            return Welcome(env_id, bool(self.curriculum.requires_step_updates))

    def _free_if_dead(self, env_id: int) -> bool:
        """Frees ``env_id`` if the process holding it is gone (checked only on this host)."""
        holder = self._holders[env_id]
        if holder.host != HOST or holder.pid == os.getpid() or _alive(holder.pid):
            return False
        session = next(key for key, value in self._sessions.items() if value == env_id)
        logger.warning(
            "env %s (process %s) is gone without closing; its id goes to the env that asked for it now",
            env_id,
            holder.pid,
        )
        self.end(session)
        return True

    def handle(self, env_id: int, message: Any) -> Tasks | Failure | None:
        """Applies one message from environment ``env_id`` and returns the reply, if any.

        Args:
            env_id: Id of the env that sent the message.
            message: The protocol message received.
        """
        with self.lock:
            try:
                return self._apply(env_id, message)
            except Exception:
                self.failure = self.failure or (
                    f"{type(self.curriculum).__name__} raised while serving env {env_id}:\n{traceback.format_exc()}"
                )
                return Failure(self.failure)

    def _apply(self, env_id: int, message: Any) -> Tasks | Failure | None:
        curriculum = self.curriculum
        if isinstance(message, EpisodeUpdate):
            if self.failure is None:
                curriculum.update_on_episode(
                    message.episode_return, message.length, message.task, message.progress, env_id=env_id
                )
            return self._sample(message.request_task and 1)
        if isinstance(message, StepUpdate):
            if self.failure is None:
                curriculum.update_on_step_batch(message.batch, env_id=env_id)
            return None
        if isinstance(message, TaskRequest):
            return self._sample(message.number)
        raise TypeError(f"unexpected message from env {env_id}: {message!r}")

    def _sample(self, count: int) -> Tasks | Failure | None:
        if not count:
            return None
        if self.failure is not None:
            return Failure(self.failure)
        tasks = self.curriculum.sample_with_metadata(count)
        if len(tasks) != count:
            raise ValueError(
                f"{type(self.curriculum).__name__}.sample_with_metadata({count}) returned {len(tasks)} tasks"
            )
        space = self.curriculum.task_space
        for task, _ in tasks:
            if not space.contains(task):
                raise ValueError(
                    f"{type(self.curriculum).__name__} sampled task {task!r}, which is not in {space!r}"
                )
        return Tasks(tasks)

    def raise_if_failed(self) -> None:
        """Raises [`CurriculumError`][syllabus.core.errors.CurriculumError] if the curriculum has failed."""
        if self.failure is not None:
            raise CurriculumError(self.failure)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
