"""The message protocol between environments and the curriculum, shared by every sync backend.

An environment sends :class:`Hello` once, :class:`TaskRequest` for tasks it has not asked for
yet, one :class:`EpisodeUpdate` per episode end (which also asks for the next task),
:class:`StepUpdate` batches only when the curriculum needs them, and :class:`Goodbye` when it
closes. The curriculum side answers with :class:`Welcome`, :class:`Tasks` and, when the
curriculum has failed, :class:`Failure`. :class:`CurriculumDispatcher` applies messages to a
curriculum; backends only move them.

Messages are named tuples: they pickle in half the time of frozen dataclasses, and every episode
end sends two of them.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, NamedTuple

from syllabus.core.curriculum import Curriculum, StepBatch
from syllabus.core.errors import CurriculumError


class Hello(NamedTuple):
    """First message of an environment; ``env_id=None`` asks the curriculum side to assign one."""

    env_id: int | None
    pid: int


class TaskRequest(NamedTuple):
    """Asks for ``count`` more tasks."""

    count: int


class EpisodeUpdate(NamedTuple):
    """Result of one finished episode; ``request_task`` asks for one more task in the same message."""

    task: Any
    episode_return: float
    length: int
    progress: float | None
    request_task: bool = True


class StepUpdate(NamedTuple):
    """Consecutive steps of one environment, for curricula with ``requires_step_updates``."""

    batch: StepBatch


class Goodbye(NamedTuple):
    """The environment closes; nothing follows."""


class Welcome(NamedTuple):
    """Answer to :class:`Hello`: the environment's id and whether it must send step updates."""

    env_id: int
    requires_step_updates: bool


class Tasks(NamedTuple):
    """Tasks for one environment, each with its (optional) metadata, in sampling order."""

    tasks: list[tuple[Any, dict[str, Any] | None]]


class Failure(NamedTuple):
    """The curriculum failed; ``message`` carries its traceback. The environment raises it."""

    message: str


class CurriculumDispatcher:
    """Applies environment messages to a curriculum, serialized by ``lock``.

    The first exception raised by the curriculum is kept: every later task request is answered
    with the same :class:`Failure`, and :meth:`raise_if_failed` re-raises it on the learner side.

    Args:
        curriculum: The curriculum that receives updates and samples tasks.
        lock: Lock shared with the learner-side wrapper, so learner calls and env updates never interleave.
    """

    def __init__(self, curriculum: Curriculum, lock: threading.RLock) -> None:
        self.curriculum = curriculum
        self.lock = lock
        self.failure: str | None = None
        self._env_ids: set[int] = set()

    def connect(self, hello: Hello) -> tuple[int, Welcome | Failure]:
        """Registers an environment; assigns the smallest free id when it did not bring one."""
        with self.lock:
            env_id = hello.env_id
            if env_id is None:
                env_id = next(i for i in range(len(self._env_ids) + 1) if i not in self._env_ids)
            elif env_id in self._env_ids:
                return env_id, Failure(
                    f"env_id {env_id} is already connected to the curriculum; env ids must be unique"
                )
            self._env_ids.add(env_id)
            return env_id, Welcome(env_id, bool(self.curriculum.requires_step_updates))

    def disconnect(self, env_id: int) -> None:
        """Forgets an environment (after :class:`Goodbye` or a lost connection)."""
        with self.lock:
            self._env_ids.discard(env_id)

    def handle(self, env_id: int, message: Any) -> Tasks | Failure | None:
        """Applies one message from environment ``env_id`` and returns the reply, if any."""
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
            return self._sample(message.count)
        raise TypeError(f"unexpected message from env {env_id}: {message!r}")

    def _sample(self, count: int) -> Tasks | Failure | None:
        if not count:
            return None
        if self.failure is not None:
            return Failure(self.failure)
        tasks = self.curriculum.sample_with_metadata(count)
        space = self.curriculum.task_space
        for task, _ in tasks:
            if not space.contains(task):
                raise ValueError(
                    f"{type(self.curriculum).__name__} sampled task {task!r}, which is not in {space!r}"
                )
        return Tasks(tasks)

    def raise_if_failed(self) -> None:
        """Raises :class:`~syllabus.core.errors.CurriculumError` if the curriculum has failed."""
        if self.failure is not None:
            raise CurriculumError(self.failure)
