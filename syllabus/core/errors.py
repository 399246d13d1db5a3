"""Errors of the library (``syllabus``): task spaces, curricula, the task interface, sync backends and vector envs.

Each is also importable where it is used: ``syllabus.core`` (and ``syllabus.task_space`` for
[`TaskSpaceError`][syllabus.core.errors.TaskSpaceError]). The runner's errors are in ``syllabus.cli.errors``.
"""

from __future__ import annotations


class CurriculumError(RuntimeError):
    """The curriculum cannot do what was asked, or it raised while serving environments.

    When the curriculum raised in another thread or process, the message carries its traceback.
    """


class CurriculumTimeoutError(CurriculumError, TimeoutError):
    """A bounded wait for the curriculum (a task, a reply) ran out."""


class CurriculumConnectionError(CurriculumError, ConnectionError):
    """The other side of a synchronization channel is gone or was never there."""


class TaskSpaceError(ValueError):
    """A task or an encoding is not valid for a task space."""


class TaskInterfaceError(TypeError):
    """An environment does not implement the task interface (``reset(new_task=...)``)."""


class EnvWorkerError(RuntimeError):
    """An environment failed: it raised, its worker process or actor died, or it did not answer in time.

    Raised by the vector envs of ``syllabus.integrations``; the message names
    the env's index and the cause (the env's exception and traceback, or how its worker ended).

    Attributes:
        index: The env's index in its vector env (``None`` when several envs or none in particular).
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def __reduce__(self) -> tuple[object, ...]:  # pickled from Ray actors and worker processes
        return type(self), (str(self), self.index)


class ReferenceModeError(ValueError):
    """PLR's reference mode reached a state in which the reference implementation fails or yields an
    invalid distribution (``PrioritizedLevelReplay(mode="reference")``; docs/plr.md lists them)."""
