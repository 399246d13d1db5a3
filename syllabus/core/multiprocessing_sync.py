"""Multiprocessing synchronization: the curriculum in the learner process, environments anywhere on the machine.

``make_multiprocessing_curriculum`` starts one sync thread in the learner process that listens on
a Unix socket in a private temporary directory. The returned ``task_queue`` and ``update_queue``
are small picklable handles holding that address: they survive plain pickle and cloudpickle, so
env factories may capture them under fork, forkserver and spawn alike (a ``multiprocessing.Queue``
captured by cloudpickle arrives as dead file-descriptor numbers). Each
[`MultiProcessingSyncWrapper`][syllabus.core.multiprocessing_sync.MultiProcessingSyncWrapper] connects once, in the process where it is built.

The sync thread blocks on its sockets (no polling); one message per episode end (plus batched
step updates for curricula that need them) is all the traffic, and socket backpressure slows a
sender down instead of dropping its updates.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import select
import selectors
import shutil
import socket
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Client, Connection
from typing import Any

import gymnasium as gym

from syllabus.core.checks import check_curriculum, check_seconds
from syllabus.core.curriculum import Curriculum
from syllabus.core.curriculum_wrapper import CurriculumWrapper
from syllabus.core.dispatcher import CurriculumDispatcher
from syllabus.core.env_sync import SyncWrapper
from syllabus.core.errors import CurriculumConnectionError
from syllabus.core.messages import Goodbye

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class _Endpoint:
    address: str
    timeout: float


def _dumps(message: Any) -> bytes:
    """Pickles a protocol message; ``Connection.send`` would build a ``ForkingPickler`` per message
    (its reducers are for multiprocessing objects, which messages never hold), ~6 us more each."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


class TaskQueue(_Endpoint):
    """Picklable handle through which environments receive tasks (pass it to the env factory)."""


class UpdateQueue(_Endpoint):
    """Picklable handle through which environments send updates (pass it to the env factory)."""


class _SocketTransport:
    """One environment's connection to the curriculum's sync thread."""

    def __init__(self, address: str) -> None:
        self.address = address
        try:
            self._conn = Client(address, family="AF_UNIX")
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise CurriculumConnectionError(
                f"cannot reach the curriculum at {address} ({exc.strerror}): it was closed or its process "
                "exited. Build environments while the curriculum returned by make_multiprocessing_curriculum is open."
            ) from None
        # Registered once: Connection.poll builds a selector per call (~12 us against ~1 us).
        self._poller = select.poll()
        self._poller.register(self._conn.fileno(), select.POLLIN)

    def send(self, message: Any) -> None:
        try:
            self._conn.send_bytes(_dumps(message))
        except OSError as exc:
            raise self._gone(exc) from None

    def recv(self, timeout: float) -> Any:
        try:
            ready = self._poller.poll(timeout * 1000.0)
            message = self._conn.recv() if ready else None
        except (EOFError, OSError) as exc:
            raise self._gone(exc) from None
        if not ready:
            raise TimeoutError
        return message

    def close(self) -> None:
        self._conn.close()

    def _gone(self, exc: BaseException) -> CurriculumConnectionError:
        return CurriculumConnectionError(
            f"lost the connection to the curriculum at {self.address} ({type(exc).__name__}): "
            "the learner process exited or curriculum.close() was called"
        )


class _SyncServer:
    """The sync thread: accepts environment connections and dispatches their messages."""

    def __init__(self, dispatcher: CurriculumDispatcher) -> None:
        self._dispatcher = dispatcher
        self._dir = tempfile.mkdtemp(prefix="syllabus-")
        self.address = os.path.join(self._dir, "curriculum.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(socket.SOMAXCONN)
        self._wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        self._connections: set[Connection] = set()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, name="syllabus-curriculum-sync", daemon=True)
        self._owner_pid = os.getpid()
        self._closed = False

    def start(self) -> None:
        if not self._thread.is_alive() and not self._closed:
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stops after handling every message already sent, then removes the socket. Idempotent."""
        if self._closed or os.getpid() != self._owner_pid:
            return
        self._closed = True
        if self._thread.is_alive():
            self._wake_writer.send_bytes(b"stop")
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "the curriculum sync thread did not stop within %.0f s (curriculum blocked?)", timeout
                )
        else:
            self._close_connections()
        self._wake_writer.close()
        self._wake_reader.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _serve(self) -> None:
        try:
            while True:
                for key, _ in self._selector.select():
                    source = key.fileobj
                    if source is self._wake_reader:
                        self._drain()
                        return
                    if source is self._listener:
                        self._accept()
                    elif source in self._connections:  # not dropped earlier in this round
                        self._read(source)
        except BaseException:  # noqa: BLE001 - the failure is reported to every env and the learner
            self._dispatcher.failure = self._dispatcher.failure or (
                f"the curriculum sync thread crashed:\n{traceback.format_exc()}"
            )
        finally:
            self._close_connections()

    def _accept(self) -> None:
        sock, _ = self._listener.accept()
        conn = Connection(sock.detach())
        self._connections.add(conn)
        self._selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: Connection) -> None:
        """Handles one message; the selector is level-triggered, so the next one wakes it again."""
        try:
            message = conn.recv()
        except (EOFError, OSError):
            self._drop(conn, lost=True)
            return
        self._handle(conn, message)

    def _handle(self, conn: Connection, message: Any) -> None:
        """Applies one message and sends the reply, if any."""
        reply = self._dispatcher.receive(conn, message)
        if reply is not None:
            self._send(conn, reply)
        if isinstance(message, Goodbye):
            self._drop(conn, lost=False)

    @staticmethod
    def _send(conn: Connection, reply: Any) -> None:
        """Sends a reply; a peer that already closed its end no longer needs it, and the rest of
        what it sent is still read until its end of stream."""
        try:
            conn.send_bytes(_dumps(reply))
        except OSError:
            pass

    def _drop(self, conn: Connection, lost: bool) -> None:
        self._connections.discard(conn)
        self._selector.unregister(conn)
        conn.close()
        self._dispatcher.end(conn, lost=lost)

    def _drain(self) -> None:
        """Handles what connected environments already sent, without waiting for more."""
        while self._connections:
            ready = [key.fileobj for key, _ in self._selector.select(timeout=0)]
            ready = [conn for conn in ready if conn in self._connections]
            if not ready:
                return
            for conn in ready:
                if conn in self._connections:
                    self._read(conn)

    def _close_connections(self) -> None:
        for conn in self._connections:
            conn.close()
            self._dispatcher.end(conn)
        self._connections.clear()
        self._listener.close()
        self._selector.close()


class MultiProcessingCurriculumWrapper(CurriculumWrapper):
    """The learner's curriculum, served to environments in other processes by a sync thread.

    Use it like the curriculum it wraps (every method is forwarded, thread-safely). Close it with
    [`close`][syllabus.core.curriculum_wrapper.CurriculumWrapper.close] or a ``with`` block after closing the environments; it also closes when garbage
    collected and at interpreter exit (Ctrl-C included).

    Args:
        curriculum: The curriculum to serve.
        timeout: Default seconds an environment waits for a task before raising.
    """

    def __init__(self, curriculum: Curriculum, timeout: float = DEFAULT_TIMEOUT) -> None:
        curriculum = check_curriculum(curriculum, "MultiProcessingCurriculumWrapper")
        timeout = check_seconds("timeout", timeout)
        super().__init__(CurriculumDispatcher(curriculum, threading.RLock()))
        self._server = _SyncServer(self._dispatcher)
        self._stop_on_close(self._server.close)
        self.task_queue = TaskQueue(self._server.address, timeout)
        self.update_queue = UpdateQueue(self._server.address, timeout)

    def start(self) -> None:
        """Starts serving environments (done by ``make_multiprocessing_curriculum`` unless ``start=False``)."""
        self._server.start()


def make_multiprocessing_curriculum(
    curriculum: Curriculum, *, start: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> tuple[MultiProcessingCurriculumWrapper, TaskQueue, UpdateQueue]:
    """Serves ``curriculum`` to environments in other processes.

    Example:
        >>> curriculum, task_queue, update_queue = make_multiprocessing_curriculum(curriculum)
        >>> env = MultiProcessingSyncWrapper(env, task_queue, update_queue)  # in each env process

    Args:
        curriculum: The curriculum to serve.
        start: Start the sync thread now; otherwise call ``curriculum.start()``.
        timeout: Default seconds an environment waits for a task before raising.

    Returns:
        The thread-safe curriculum for the learner, and the two picklable handles for env factories.

    Raises:
        TypeError: ``curriculum`` is not a [`Curriculum`][syllabus.core.curriculum.Curriculum].
        ValueError: ``timeout`` is not a finite number of seconds > 0.
    """
    check_curriculum(curriculum, "make_multiprocessing_curriculum")
    wrapper = MultiProcessingCurriculumWrapper(curriculum, timeout)
    if start:
        wrapper.start()
    return wrapper, wrapper.task_queue, wrapper.update_queue


def socket_connector(task_queue: TaskQueue, update_queue: UpdateQueue) -> Callable[[], _SocketTransport]:
    """Checks the handles of a ``make_multiprocessing_curriculum`` call and returns how to connect to it.

    Raises:
        TypeError: A handle is not the one returned by ``make_multiprocessing_curriculum``.
        ValueError: The two handles come from different calls.
    """
    for name, handle, kind in (
        ("task_queue", task_queue, TaskQueue),
        ("update_queue", update_queue, UpdateQueue),
    ):
        if not isinstance(handle, kind):
            raise TypeError(
                f"{name} must be the {kind.__name__} returned by make_multiprocessing_curriculum, got {handle!r}"
            )
    if task_queue.address != update_queue.address:
        raise ValueError(
            "task_queue and update_queue come from different make_multiprocessing_curriculum calls"
        )
    return partial(_SocketTransport, task_queue.address)


class MultiProcessingSyncWrapper(SyncWrapper):
    """Connects an environment to a curriculum served by [`make_multiprocessing_curriculum`][syllabus.core.multiprocessing_sync.make_multiprocessing_curriculum].

    Build it inside the env process (in the env factory). See [`SyncWrapper`][syllabus.core.env_sync.SyncWrapper]
    for what it does on reset and step.

    Args:
        env: A task env, or wrapped in a TaskWrapper directly beneath this wrapper.
        task_queue: The task handle returned by ``make_multiprocessing_curriculum``.
        update_queue: The update handle returned by the same call.
        env_id: Identifier reported with updates; assigned in connection order when ``None``.
        timeout: Seconds a reset may wait for a task; defaults to the curriculum's ``timeout``.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Steps per step-update message (only for curricula that need step updates).
    """

    def __init__(
        self,
        env: gym.Env,
        task_queue: TaskQueue,
        update_queue: UpdateQueue,
        *,
        env_id: int | None = None,
        timeout: float | None = None,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        super().__init__(
            env,
            socket_connector(task_queue, update_queue),
            env_id=env_id,
            timeout=task_queue.timeout if timeout is None else timeout,
            prefetch=prefetch,
            step_batch_size=step_batch_size,
        )
