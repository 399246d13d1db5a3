"""How the runner reports errors: a user's mistake is one line and exit 2, a failed run one message and exit 1.

Tracebacks are hidden unless debugging is on: ``syllabus --debug ...`` or the environment variable
``SYLLABUS_DEBUG=1`` (which ``--debug`` sets, so sweep jobs in other processes see it too).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path

DEBUG_ENV = "SYLLABUS_DEBUG"
USAGE_EXIT = 2
FAILURE_EXIT = 1


class UserError(ValueError):
    """A mistake in what the user asked for (a value, a path, a run directory); the message says what is valid."""


class RunDirError(UserError):
    """A run directory cannot be used as asked: locked by another process, already holds a run, cannot resume."""


class CheckpointError(RunDirError):
    """A checkpoint is missing, truncated or corrupt; the message names the file."""


class RunDataError(UserError):
    """A run directory's file (episode log, evaluation result) is missing or malformed; the message names it."""


class ConfigError(UserError):
    """A configuration value is wrong; the message names the key and what is valid."""


class MissingDependencyError(RuntimeError):
    """An optional dependency of the chosen config is not installed; the message names the extra."""


def debug_enabled() -> bool:
    """Whether tracebacks are shown (``--debug`` or ``SYLLABUS_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def enable_debug() -> None:
    """Turns on tracebacks for this process and the processes it starts (also Hydra's full errors)."""
    os.environ[DEBUG_ENV] = "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"


def report(prog: str, message: str, exc: BaseException | None = None) -> None:
    """Prints ``prog: error: message`` on stderr, preceded by ``exc``'s traceback when debugging."""
    if exc is not None and debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, MissingDependencyError)
"""The exception types that mean a user's mistake (exit 2): a wrong value, path or run directory, or an
extra that is not installed."""


class RunFailure(RuntimeError):
    """Training stopped because something failed (an env, its worker, the curriculum); the message says what.

    Attributes:
        steps: Env steps the learner had taken when it failed.
    """

    def __init__(self, message: str, steps: int) -> None:
        super().__init__(message)
        self.steps = steps


def describe_failure(exc: BaseException) -> str:
    """The message of a failed run: the error's own message when it explains itself (an env or the
    curriculum failed), else its type, message and traceback (an unexpected error, i.e. a bug)."""
    from syllabus.core.errors import CurriculumError, EnvWorkerError

    cause = getattr(exc, "cause", None)  # Ray's RayTaskError carries the actor's exception
    if isinstance(cause, EnvWorkerError):
        return str(cause)
    if isinstance(exc, (RunFailure, EnvWorkerError)):
        return str(exc)
    if isinstance(exc, CurriculumError):
        return f"the curriculum failed: {exc}"
    diverged = describe_divergence(exc)
    if diverged is not None:
        return diverged
    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"{type(exc).__name__}: {exc}\n{trace}"


def describe_divergence(exc: BaseException) -> str | None:
    """One line when training diverged: torch refused the policy's NaN or infinite outputs (e.g.
    ``Categorical(logits=nan)``), which a too-large learning rate causes; ``None`` for other errors."""
    text = str(exc)
    if not isinstance(exc, ValueError) or "but found invalid values" not in text:
        return None
    what = text.split(" to satisfy the constraint")[0].removeprefix("Expected ")
    return (
        f"training diverged: the policy's outputs became NaN or infinite ({what}); lower "
        "learner.learning_rate (or learner.max_grad_norm), or check the env's observations and rewards"
    )


# A full, over-quota or read-only disk, or a directory the run may not write.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})


def disk_write_error(exc: BaseException) -> OSError | None:
    """The full, read-only or unwritable disk behind ``exc`` (``exc`` itself or its cause), or ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def describe_disk_error(exc: OSError, run_dir: Path) -> str:
    """One line naming the path that could not be written, why, and how to continue."""
    path = exc.filename or run_dir
    return (
        f"cannot write {path}: {exc.strerror or exc}; free space (or make {run_dir} writable), then continue "
        f"with: syllabus train --resume {run_dir}"
    )


def describe_unwritable_output(exc: OSError, *, resume: bool) -> str:
    """One line for a run or sweep directory that cannot be written at the start (a read-only or full disk,
    no permission), with what to do: another place for a new run, a writable copy for ``--resume``."""
    if resume:
        hint = "--resume writes into the run directory: make it writable, or resume a copy on a writable disk"
    else:
        hint = "choose a writable place with hydra.run.dir=DIR (for a sweep: hydra.sweep.dir=DIR)"
    return f"cannot write {exc.filename}: {exc.strerror or exc}; {hint}"
