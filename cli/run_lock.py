"""One writer per run directory: an exclusive ``flock`` on ``RUN_DIR/.lock``, which holds the writer's PID.

The kernel releases the lock when its process ends, however it ends (SIGKILL included), so a crashed
run never leaves a stale lock behind; the PID in the file only names the holder in the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from syllabus.cli.errors import RunDirError

LOCK_FILE = ".lock"


class RunDirLock:
    """An exclusive lock on a run directory, held from [`acquire`][syllabus.cli.run_lock.RunDirLock.acquire] until [`release`][syllabus.cli.run_lock.RunDirLock.release] or process exit.

    Args:
        run_dir: The run directory (created if missing).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Takes the lock without waiting.

        Raises:
            RunDirError: Another process holds it; the message names that process's PID.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{self.run_dir} is in use by another syllabus process (PID {holder}); wait for it to end, stop "
                "it, or choose another directory (hydra.run.dir=...)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Releases the lock; idempotent."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
