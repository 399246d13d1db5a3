"""What a test's own processes hold, so that leak checks ignore other processes on the machine."""

from __future__ import annotations

import psutil

SHM = "/dev/shm/"


def shared_memory_of(pid: int) -> set[str]:
    """The files under /dev/shm that process ``pid`` and its descendants have mapped or open.

    Unlinked segments (still mapped, but already gone from /dev/shm) are left out.
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return set()
    paths: set[str] = set()
    for process in processes:
        try:
            paths.update(m.path for m in process.memory_maps(grouped=True))
            paths.update(f.path for f in process.open_files())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {p for p in paths if p.startswith(SHM) and not p.endswith("(deleted)")}


def processes_with_env(name: str, value: str) -> list[psutil.Process]:
    """Live processes whose environment holds ``name=value``: whatever a test started, reparented or not."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(name) == value:
                found.append(proc)
        except psutil.Error:
            continue  # exited meanwhile, or not ours to read
    return found


def live_processes(pids: list[int]) -> list[psutil.Process]:
    """The processes among ``pids`` that still run; one that exits while being looked up is left out."""
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def children_named(*parts: str) -> list[psutil.Process]:
    """This process's descendants whose command line holds any of ``parts``; one that exits meanwhile is left out."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any(part in " ".join(child.cmdline()) for part in parts):
                found.append(child)
        except psutil.Error:
            continue
    return found


def has_exited(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (it exited and waits to be reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def describe_processes(procs: list[psutil.Process]) -> str:
    """``pid: command line`` of each process, for a failure message."""
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid}: {' '.join(proc.cmdline())[:160]}")
        except psutil.Error:
            lines.append(f"{proc.pid}: (exited)")
    return "; ".join(lines)
