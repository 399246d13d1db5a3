"""The Ray of a ``sync=ray`` run: a private local Ray, or a cluster joined at ``sync.address``.

``sync.address: null`` always starts a new local Ray for the run, whatever else runs on the
machine: ``RAY_ADDRESS`` is ignored, Ray's auto-discovery is never used (``address="local"``) and
the session lives in a temporary directory of its own (so ``ray status``, or another program's
``ray.init()``, never picks this run's Ray as "the latest cluster"). It is stopped and its
directory removed when the run ends.

Any other ``sync.address`` joins that cluster. Joining is checked first, in a child process that
does what ``ray.init(address=...)`` does and is killed after ``sync.join_timeout`` seconds: Ray
itself retries for minutes when something that is not a Ray node listens at the address, and
ignores Ctrl-C meanwhile. The run's own ``ray.init`` then gets the same deadline.

The curriculum actor is placed on the driver's node (``sync.curriculum_node: driver``), so losing
a worker node never takes the curriculum with it; ``any`` leaves the choice to Ray.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from syllabus.cli.errors import ConfigError
from syllabus.cli.syncs.ray import RaySyncConfig

RAY_CLIENT_PORT = 10001
"""Port of ``ray://HOST`` when none is given (Ray Client's default)."""

logger = logging.getLogger("syllabus.train")

_RAY_DIR_PREFIX = "syllabus-ray-"
_AF_UNIX_MAX = 107  # bytes of a Unix socket path (Linux)
# What Ray appends to its temp dir for its longest socket path:
# "/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store.<n>".
_RAY_SOCKET_SUFFIX = len("/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store.99")

# Run in a child process: join the cluster like the runner will, print one JSON line, leave.
_PROBE = """
import json, logging, sys
try:
    import ray
    from ray.exceptions import AuthenticationError
    if sys.argv[1] != "auto" and "://" not in sys.argv[1]:
        # ray.init retries a refused auth token for 20 s; one direct GCS connection reports it at once.
        try:
            from ray._raylet import GcsClient  # private: if it moves, ray.init below still reports
            GcsClient(address=sys.argv[1])
        except AuthenticationError:
            raise
        except Exception:
            pass  # not an auth failure: ray.init below retries and reports it
    ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
    nodes = len([node for node in ray.nodes() if node.get("Alive")])
    ray.shutdown()
    print(json.dumps({"nodes": nodes}))
except BaseException as exc:
    from syllabus.cli.ray_cluster import root_cause
    print(json.dumps({"error": root_cause(exc)}))
"""


def root_cause(exc: BaseException) -> str:
    """What went wrong, in one line: the innermost exception of ``exc``'s chain, as ``Type: message``.

    Ray often wraps its errors (``ConnectionError`` caused by a ``RuntimeError`` whose message embeds
    a formatted traceback); the line that says why is the last line of the innermost traceback.
    """
    inner = exc
    seen = {id(exc)}
    while True:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        inner = nxt
    text = str(inner).strip()
    if "Traceback (most recent call last)" in text:
        lines = [line.strip() for line in text.split("Traceback (most recent call last)")[-1].splitlines()]
        text = next((line for line in reversed(lines) if line and not line.startswith("^")), text)
        return text
    first = text.splitlines()[0].strip() if text else ""
    return f"{type(inner).__name__}: {first}" if first else type(inner).__name__


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").partition(":")
    return host, int(port) if port else RAY_CLIENT_PORT


def check_cluster(sync: RaySyncConfig) -> None:
    """Checks that a Ray cluster can be joined at ``sync.address`` within ``sync.join_timeout`` seconds.

    Nothing to check for ``sync.address: null`` (a private local Ray). ``auto`` is checked like an
    address. A closed port fails at once; anything else that does not complete Ray's handshake in
    time fails after ``sync.join_timeout``. Ctrl-C stops the check at once.

    Raises:
        ConfigError: No Ray cluster can be joined there; the message gives Ray's own reason.
    """
    if sync.address is None:
        return
    if sync.address != "auto":
        host, port = _host_port(sync.address)
        try:
            socket.create_connection((host, port), timeout=min(sync.join_timeout, 10.0)).close()
        except OSError as exc:
            raise ConfigError(
                f"sync.address={sync.address!r}: nothing answers at {host}:{port} ({exc}); start a Ray "
                "cluster there (`ray start --head`) or use sync.address=null for a private local Ray"
            ) from None
    with _ctrl_c_interrupts():  # before the log line: a Ctrl-C right after it must end the join
        logger.info(
            "joining the Ray cluster at %s (up to sync.join_timeout=%g s)", sync.address, sync.join_timeout
        )
        out, returncode = _run_probe(sync.address, sync.join_timeout)
    if returncode == -signal.SIGINT:
        # A Ctrl-C that reached the probe before it left the runner's process group (between fork and
        # setsid): the user's interrupt, not a failure to join.
        raise KeyboardInterrupt
    lines = out.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {"error": f"exit code {returncode}"}
    if "error" in result:
        raise ConfigError(
            f"sync.address={sync.address!r}: cannot join a Ray cluster there: {result['error']}; start one "
            "(`ray start --head`), set RAY_AUTH_TOKEN if the cluster uses token authentication, or use "
            "sync.address=null for a private local Ray"
        )


def _run_probe(address: str, join_timeout: float) -> tuple[str, int]:
    """Runs the join probe for ``sync.address`` in its own session: its output and exit code. Its whole
    session is stopped when it is done, late (after ``sync.join_timeout`` seconds) or interrupted."""
    probe = None
    try:
        with _ctrl_c_deferred():  # a Ctrl-C during Popen() raises once ``probe`` is set, and stops it
            probe = subprocess.Popen(
                [sys.executable, "-c", _PROBE, address],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # Ctrl-C reaches the runner, which stops the probe's whole session
            )
        out, _ = probe.communicate(timeout=join_timeout)
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"sync.address={address!r}: no Ray cluster answered within sync.join_timeout="
            f"{join_timeout:g} s (something listens there but does not complete Ray's handshake: give "
            "the address `ray start --head` printed, HOST:6379 by default, or ray://HOST:10001 for Ray "
            "Client)"
        ) from None
    finally:
        if probe is not None:
            _stop_session(probe)
    return out, probe.returncode


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Holds a Ctrl-C that arrives in the block and raises it (KeyboardInterrupt) when the block ends.

    A handler that only records the signal, not a blocked signal mask: Python runs its handlers in the
    main thread whichever thread the kernel delivers a signal to, so a mask would not keep a
    KeyboardInterrupt out of the block once another thread exists. Main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_interrupts() -> Iterator[None]:
    """Makes Ctrl-C raise KeyboardInterrupt in the block (main thread only).

    A run (or sweep) otherwise takes its first Ctrl-C as a request to checkpoint and stop; while it
    is still joining a cluster there is nothing to save, so one Ctrl-C ends it at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_session(proc: subprocess.Popen[str]) -> None:
    """Kills ``proc`` and anything it started in its session, and reaps it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def connect_ray(sync: RaySyncConfig) -> Callable[[], None] | None:
    """Starts a private local Ray (``sync.address: null``) or joins the cluster at ``sync.address``.

    Reuses a Ray this process already initialized (e.g. a launcher's). Call [`check_cluster`][syllabus.cli.ray_cluster.check_cluster]
    first when joining: it bounds the time a join can take.

    Returns:
        What ends this run's use of Ray (stops a private Ray and removes its directory; only
        disconnects from a cluster), or ``None`` when Ray was already initialized and stays as it was.

    Raises:
        ConfigError: Joining the cluster at ``sync.address`` failed.
    """
    import ray

    if ray.is_initialized():
        logger.info("using the Ray this process is already connected to; sync.address is not used")
        return None
    if sync.address is None:
        return _start_private_ray(sync)
    try:
        with _deadline(sync.join_timeout), _keeping_signal_handlers():
            ray.init(address=sync.address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        ray.shutdown()  # whatever the failed attempt connected
        raise ConfigError(
            f"sync.address={sync.address!r}: cannot join a Ray cluster there: {root_cause(exc)}; start one "
            "(`ray start --head`), or use sync.address=null for a private local Ray"
        ) from None
    return ray.shutdown


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raises TimeoutError in the block after ``seconds`` (main thread only; elsewhere no deadline).

    Ray's join retries in Python between attempts, where the alarm's exception lands.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within sync.join_timeout={seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _keeping_signal_handlers() -> Iterator[None]:
    """Around ``ray.init``: the run keeps its SIGINT/SIGTERM handlers, and Ray's processes leave SIGTERM to it.

    ``ray.init`` replaces the SIGTERM handler with one that exits at once (no checkpoint); the
    handlers are put back after it. SIGINT and SIGTERM are blocked meanwhile, and the processes Ray
    starts inherit the block (Ray blocks SIGINT in them itself), so a scheduler's SIGTERM to the whole
    process group does not stop the local Ray (its GCS, raylet, env and curriculum actors) before the
    run has saved its checkpoint. A signal that arrives meanwhile reaches the run's handler after it.
    The run stops its private Ray with ``_shutdown_without_grace``, which does not wait for that SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(handlers))
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def ray_temp_root() -> str:
    """Where the private Ray's directory goes: ``RAY_TMPDIR``, else the temp dir (``TMPDIR``), else ``/tmp``
    when those are too long for the socket paths Ray makes under it (AF_UNIX paths are at most 107 bytes).

    Raises:
        ConfigError: No candidate is short enough and writable.
    """
    configured = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    longest = _AF_UNIX_MAX - _RAY_SOCKET_SUFFIX - len(_RAY_DIR_PREFIX) - 9  # "/" and mkdtemp's 8 characters
    for root in (configured, "/tmp"):
        if len(os.path.abspath(root)) <= longest and os.access(root, os.W_OK | os.X_OK):
            if root != configured:
                logger.info(
                    "the temp dir %s is too long for Ray's socket paths (at most %d characters); the private "
                    "Ray uses %s instead",
                    configured,
                    longest,
                    root,
                )
            return root
    raise ConfigError(
        f"the temp dir {configured} is too long for Ray's socket paths (at most {longest} characters, got "
        f"{len(configured)}) and /tmp is not writable; set RAY_TMPDIR to a short writable directory"
    )


def _start_private_ray(sync: RaySyncConfig) -> Callable[[], None]:
    """``ray.init`` of a new local Ray that nothing else on the machine finds or joins."""
    import ray

    ignored = os.environ.pop("RAY_ADDRESS", None)
    if ignored:
        logger.info(
            "ignoring RAY_ADDRESS=%s: sync.address=null starts a private local Ray (set sync.address to join)",
            ignored,
        )
    if os.environ.get("RAY_AUTH_MODE", "token").lower() == "token" and not (
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").exists()
    ):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)  # Ray caches it: kept for the process
    # Short (Ray's socket paths live under it) and private: not Ray's shared /tmp/ray.
    temp_dir = tempfile.mkdtemp(prefix=_RAY_DIR_PREFIX, dir=ray_temp_root())

    def stop() -> None:
        try:
            _shutdown_without_grace(ray)
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)

    try:
        with _keeping_signal_handlers():
            ray.init(
                address="local",
                num_cpus=sync.num_cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
                _temp_dir=temp_dir,
            )
    except BaseException:
        stop()
        raise
    logger.info("started a private local Ray for this run (in %s)", temp_dir)
    return stop


def _shutdown_without_grace(ray: Any) -> None:
    """``ray.shutdown()`` of the private Ray, whose processes keep SIGTERM blocked (see ``_keeping_signal_handlers``).

    Ray stops each head process with SIGTERM, waits up to a second, then sends SIGKILL. With SIGTERM
    blocked, each wait is an idle second before the SIGKILL: five per run. Here only the GCS keeps its
    second, in which the raylet's agents, which see the raylet die, report to it and exit (killed with
    it, they would wait a minute for it instead); the raylet, monitor, dashboard and log monitor are
    killed at once. This reaches into Ray's private node object; should that change, ``ray.shutdown()``
    runs as it is (slower, same end).
    """
    try:
        node = ray._private.worker._global_node
        kill_process_type = node._kill_process_type
    except AttributeError:
        node = None
    if node is not None:

        def kill(process_type: str, **kwargs: Any) -> None:
            graceful = kwargs.get("allow_graceful", False) and process_type == "gcs_server"
            kill_process_type(process_type, **{**kwargs, "allow_graceful": graceful})

        node._kill_process_type = kill  # this node object only, which ray.shutdown() then drops
    ray.shutdown()


def curriculum_actor_options(sync: RaySyncConfig) -> dict[str, Any]:
    """Ray actor options of the curriculum actor: pinned to the driver's node unless ``curriculum_node: any``.

    Pinned means ``soft=False``: the actor never moves to a worker node, whose loss would take the
    curriculum with it (losing an env actor stops the run with its index instead).
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if sync.curriculum_node == "any":
        return {"scheduling_strategy": "DEFAULT"}
    node = ray.get_runtime_context().get_node_id()
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False)}


def curriculum_actor_name(sync: RaySyncConfig) -> str:
    """``sync.curriculum_name``, or a name of the run's own."""
    return sync.curriculum_name or f"syllabus-curriculum-{uuid.uuid4().hex[:12]}"


def start_curriculum_actor(sync: RaySyncConfig, curriculum: Any, name: str) -> Any:
    """The run's curriculum as the named Ray actor ``name`` ([`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum]),
    placed as ``sync.curriculum_node`` says."""
    from syllabus.core import make_ray_curriculum

    return make_ray_curriculum(
        curriculum, name, sync.namespace, timeout=sync.timeout, actor_options=curriculum_actor_options(sync)
    )
