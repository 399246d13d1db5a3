"""In-process synchronization: environments that run in the learner's own thread call the curriculum directly.

For single-process vector envs (gymnasium ``SyncVectorEnv``, SB3 ``DummyVecEnv``) and debugging:
the same semantics as the other backends (prefetched tasks, ``info["task"]``, one episode update
per episode end, step batches only when the curriculum needs them) with no thread, socket or
process. Every message is applied the moment it is sent, so a run is deterministic given its
seeds: the same tasks in the same order, the same updates.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from syllabus.core.checks import check_curriculum
from syllabus.core.curriculum import Curriculum
from syllabus.core.dispatcher import CurriculumDispatcher
from syllabus.core.env_sync import SyncWrapper

# One dispatcher per curriculum, so every env of a curriculum shares its env-id assignment.
_dispatchers: weakref.WeakKeyDictionary[Curriculum, CurriculumDispatcher] = weakref.WeakKeyDictionary()


class _DirectTransport:
    """Applies each message to the dispatcher at once and keeps the replies for the next ``recv``."""

    def __init__(self, dispatcher: CurriculumDispatcher) -> None:
        self._dispatcher = dispatcher
        self._replies: deque[Any] = deque()

    def send(self, message: Any) -> None:
        reply = self._dispatcher.receive(self, message)
        if reply is not None:
            self._replies.append(reply)

    def recv(self, timeout: float) -> Any:
        if not self._replies:
            # Every request is answered as it is sent, so nothing more can ever arrive.
            raise TimeoutError
        return self._replies.popleft()

    def close(self) -> None:
        self._replies.clear()
        self._dispatcher.end(self)  # no-op after Goodbye


def direct_connector(curriculum: Curriculum, caller: str) -> Callable[[], _DirectTransport]:
    """Checks ``curriculum`` and returns how an env of ``caller`` connects to it in this thread.

    Raises:
        TypeError: ``curriculum`` is not a plain ``Curriculum``.
    """
    check_curriculum(curriculum, caller)
    dispatcher = _dispatchers.get(curriculum)
    if dispatcher is None:
        dispatcher = _dispatchers[curriculum] = CurriculumDispatcher(curriculum, threading.RLock())
    return lambda: _DirectTransport(dispatcher)


class DirectSyncWrapper(SyncWrapper):
    """Connects an environment to a curriculum in the same process and thread, without any IPC.

    Use it with single-process vector envs; the curriculum is the plain [`Curriculum`][syllabus.core.curriculum.Curriculum]
    (no ``make_*_curriculum`` call), and the learner calls it directly, e.g. for ``custom_update``.
    Not thread-safe: the envs and the learner must run in one thread. See
    [`SyncWrapper`][syllabus.core.env_sync.SyncWrapper] for what happens on reset and step.

    Args:
        env: A task env, or wrapped in a TaskWrapper directly beneath this wrapper.
        curriculum: The curriculum that samples this env's tasks and receives its updates.
        env_id: Identifier reported with updates; assigned in order of first reset when ``None``.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Steps per step-update batch (only for curricula that need step updates).
    """

    def __init__(
        self,
        env: gym.Env,
        curriculum: Curriculum,
        *,
        env_id: int | None = None,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        super().__init__(
            env,
            direct_connector(curriculum, "DirectSyncWrapper"),
            env_id=env_id,
            prefetch=prefetch,
            step_batch_size=step_batch_size,
        )
