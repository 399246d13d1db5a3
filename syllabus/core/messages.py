"""The messages between environments and the curriculum, shared by every sync backend.

An environment sends `Hello` once, `TaskRequest` for tasks it has not asked for
yet, one `EpisodeUpdate` per episode end (which also asks for the next task),
`StepUpdate` batches only when the curriculum needs them, and `Goodbye` when it
closes. The curriculum side answers with `Welcome`, `Tasks` and, when the
curriculum has failed, `Failure`.
[`CurriculumDispatcher`][syllabus.core.dispatcher.CurriculumDispatcher] applies them to a curriculum.

Messages are named tuples: they pickle in half the time of frozen dataclasses, and every episode
end sends two of them.
"""

from __future__ import annotations

import socket
from typing import Any, NamedTuple

from syllabus.core.curriculum import StepBatch

HOST = socket.gethostname()


class Hello(NamedTuple):
    """First message of an environment; ``env_id=None`` asks the curriculum side to assign one.

    ``pid`` and ``host`` identify the env's process, so that the id of an env whose process died
    without saying goodbye can be given to a new env on the same host.
    """

    env_id: int | None
    pid: int
    host: str = HOST


class TaskRequest(NamedTuple):
    """Asks for ``number`` more tasks."""

    number: int


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
    """Answer to `Hello`: the environment's id and whether it must send step updates."""

    env_id: int
    requires_step_updates: bool


class Tasks(NamedTuple):
    """Tasks for one environment, each with its (optional) metadata, in sampling order."""

    tasks: list[tuple[Any, dict[str, Any] | None]]


class Failure(NamedTuple):
    """The curriculum failed; ``message`` carries its traceback. The environment raises it."""

    message: str
