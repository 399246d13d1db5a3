"""Suite-wide settings and checks.

* Every test's pytest-timeout limit follows ``SYLLABUS_TEST_TIMEOUT_SCALE`` (see ``timeouts.py``).
* Every process of the suite runs torch and numpy with one thread each (``OMP_NUM_THREADS`` and
  ``OPENBLAS_NUM_THREADS`` are 1 unless set).
* No test module leaves a process behind: every process the suite starts inherits a session marker
  in its environment (one per pytest-xdist worker), so one that outlives its test module (even
  reparented to init, as an orphaned Ray or join-probe process would be) fails that module's last
  test, and is then killed.
* No test module leaves a signal handler changed: a handler left behind (``ray.init`` makes SIGTERM
  raise ``SystemExit``) travels into every process a later test forks.
* No test leaves a temp dir: every test runs with a private temporary directory (``TMPDIR`` for
  subprocesses, ``tempfile.tempdir`` in this process), so a ``syllabus-*`` directory a test leaves
  behind is found and blamed on that test, whatever else runs on the machine.
"""

from __future__ import annotations

import multiprocessing.util
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from process_resources import describe_processes, processes_with_env
from timeouts import SCALE, scaled

# One thread per process for torch (OpenMP) and numpy (OpenBLAS), in this process and every process a
# test starts: with two test workers on two cores, each running learners, env processes and Ray actors,
# more threads per process only compete for the same cores (and spin between parallel regions). Measured
# on the slow RLlib Tune tests: 99 CPU-s with the libraries' defaults (2 threads), 88 with one OpenMP
# thread, 81 with one of each. Set before torch and numpy are imported; explicit values win.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SESSION_MARKER = "SYLLABUS_TEST_SESSION"
os.environ.setdefault(SESSION_MARKER, uuid.uuid4().hex)  # inherited by every process a test starts
if "PYTEST_XDIST_WORKER" in os.environ:
    # Each pytest-xdist worker (`make test` runs two) checks only the processes its own tests started.
    os.environ[SESSION_MARKER] += "-" + os.environ["PYTEST_XDIST_WORKER"]

LEFTOVER_PATTERN = "syllabus-*"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scales each test's timeout: its own ``@pytest.mark.timeout(N)``, else the ini ``timeout``."""
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker is not None and marker.args else default
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(seconds * SCALE), append=False)


# Servers that multiprocessing starts once per process and keeps until that process exits.
_PER_PROCESS_SERVERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")


def _own_processes() -> list[psutil.Process]:
    """The suite's processes, less pytest itself and its own multiprocessing servers."""
    me = os.getpid()
    out = []
    for proc in processes_with_env(SESSION_MARKER, os.environ[SESSION_MARKER]):
        try:
            server = proc.ppid() == me and any(s in " ".join(proc.cmdline()) for s in _PER_PROCESS_SERVERS)
        except psutil.Error:
            continue
        if proc.pid != me and not server:
            out.append(proc)
    return out


@pytest.fixture(autouse=True, scope="module")
def no_orphan_processes() -> Iterator[None]:
    """Fails a test module that leaves a process running after all its fixtures are torn down."""
    before = {p.pid for p in _own_processes()}
    yield
    started = [p for p in _own_processes() if p.pid not in before]
    _, alive = psutil.wait_procs(started, timeout=scaled(15))
    if alive:
        described = describe_processes(alive)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        pytest.fail(f"the test module left {len(alive)} process(es) running: {described}", pytrace=False)


_GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True, scope="module")
def signal_handlers_restored() -> Iterator[None]:
    """Fails a test module that leaves this process's SIGINT or SIGTERM handler changed, and restores it."""
    before = {signum: signal.getsignal(signum) for signum in _GUARDED_SIGNALS}
    yield
    changed = [signal.Signals(s).name for s, handler in before.items() if signal.getsignal(s) != handler]
    for signum, handler in before.items():
        signal.signal(signum, handler)
    if changed:
        pytest.fail(f"the test module left the handler of {', '.join(changed)} changed", pytrace=False)


def leftovers(directory: Path) -> set[str]:
    """Names of the ``syllabus-*`` entries in ``directory``."""
    return {path.name for path in directory.glob(LEFTOVER_PATTERN)}


@pytest.fixture(scope="session", autouse=True)
def private_tempdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's temporary directory; fails the session if a ``syllabus-*`` entry is left in it.

    Short (``/tmp/st…``): Ray's socket paths live under the temp dirs made in it and must stay under
    107 characters.
    """
    # Not in ours: multiprocessing's own temp dir (removed at interpreter exit, after this fixture) and
    # pytest's tmp_path (kept for a look after a failure; short enough for the sockets made in it).
    multiprocessing.util.get_temp_dir()
    tmp_path_factory.getbasetemp()
    directory = Path(tempfile.mkdtemp(prefix="st", dir="/tmp"))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(directory)
    tempfile.tempdir = str(directory)
    try:
        yield directory
    finally:
        left = sorted(leftovers(directory))
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(directory, ignore_errors=True)
    assert not left, f"the test session left temporary directories: {', '.join(left)}"


@pytest.fixture(autouse=True)
def no_leftover_tempdirs(private_tempdir: Path) -> Iterator[None]:
    """Fails a test that leaves a new ``syllabus-*`` entry in the temp dir (and removes it)."""
    before = leftovers(private_tempdir)
    yield
    new = sorted(leftovers(private_tempdir) - before)
    for name in new:
        path = private_tempdir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if new:
        pytest.fail(f"the test left temporary directories in {private_tempdir}: {', '.join(new)}")
