"""The finish stage: records how the run ended in ``meta.json``, whatever happened, and turns a failure
into one [`RunFailure`][syllabus.cli.errors.RunFailure] whose message is a line a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syllabus.cli.errors import (
    USER_ERRORS,
    RunFailure,
    describe_disk_error,
    describe_failure,
    disk_write_error,
)
from syllabus.cli.learners import Learner
from syllabus.cli.run_dir import finish_meta


@dataclass
class Outcome:
    """How a run ends: its status (``failed`` until a stage says otherwise) and its step count.

    Attributes:
        status: ``completed``, ``interrupted`` or ``failed``.
        learner: The open learner, whose step count is the run's (``None`` before it opens).
        start_steps: Steps trained before this session (resumed runs).
    """

    status: str = "failed"
    learner: Learner | None = None
    start_steps: int = 0

    @property
    def steps(self) -> int:
        """Steps trained so far, including those before a resume."""
        return self.start_steps if self.learner is None else self.learner.num_timesteps


@contextmanager
def recorded(run_dir: Path, meta: dict[str, Any], start_steps: int) -> Iterator[Outcome]:
    """Yields the run's [`Outcome`][syllabus.cli.pipeline.finish.Outcome] and, on the way out, writes it
    into ``meta.json`` (also when the run fails or is aborted).

    Raises:
        RunFailure: Training failed (an env, its worker, the curriculum, a full disk); ``meta.json``
            says why, and at which step.
    """
    outcome = Outcome(start_steps=start_steps)
    reason: str | None = None
    failed_at: int | None = None
    try:
        yield outcome
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        raise
    except Exception as exc:
        disk = disk_write_error(exc)
        if disk is not None:  # a full or read-only disk: one line naming the path
            failed_at = exc.steps if isinstance(exc, RunFailure) else outcome.steps
            reason = describe_disk_error(disk, run_dir)
            raise RunFailure(reason, failed_at) from None
        if isinstance(exc, RunFailure):
            failed_at, reason = exc.steps, str(exc)
            raise
        if isinstance(exc, USER_ERRORS):  # e.g. no Ray cluster at sync.address: still the user's to fix
            reason = str(exc)
            raise
        reason = describe_failure(exc)
        raise RunFailure(reason, outcome.steps) from exc
    finally:
        finish_meta(run_dir, meta, outcome.status, outcome.steps if failed_at is None else failed_at, reason)
