"""Errors raised by the curriculum and synchronization layer."""

from __future__ import annotations


class CurriculumError(RuntimeError):
    """The curriculum cannot do what was asked, or it raised while serving environments.

    When the curriculum raised in another thread or process, the message carries its traceback.
    """


class CurriculumTimeoutError(CurriculumError, TimeoutError):
    """A bounded wait for the curriculum (a task, a reply) ran out."""


class CurriculumConnectionError(CurriculumError, ConnectionError):
    """The other side of a synchronization channel is gone or was never there."""


class TaskInterfaceError(TypeError):
    """An environment does not implement the task interface (``reset(new_task=...)``)."""
