"""The environment's side of the Ray backend: its channel to the curriculum actor, in batches.

Environment messages travel in batches, as fire-and-forget actor calls: each env keeps its
messages in a local batch of up to ``batch_size``, sent as one call when full, when the env
would otherwise wait for a reply, and on close. Ray runs the calls of one caller on an actor
without concurrency (``max_concurrency=1``) in the order they were submitted, the actor applies
a batch's messages in order, and each env reads the replies in that same order; at most
``max_in_flight`` calls are unanswered per env, beyond which a send waits for the oldest one
(backpressure, never loss).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from syllabus.core.checks import check_count
from syllabus.core.errors import CurriculumConnectionError, CurriculumError, CurriculumTimeoutError
from syllabus.core.ray.actor import find_actor
from syllabus.core.ray.calls import dumps, label, loads, ray_module, result_of

if TYPE_CHECKING:
    from ray.actor import ActorHandle

logger = logging.getLogger(__name__)

DEFAULT_MAX_IN_FLIGHT = 32
"""Actor calls an env may have unanswered before a send waits."""
DEFAULT_PREFETCH = 8
"""Tasks an env keeps ready beyond the one its next reset takes."""
DEFAULT_BATCH_SIZE = 8
"""Most messages per actor call when no ``batch_size`` is given."""

FORK_FIX = (
    "RaySyncWrapper cannot run in a process forked from a Ray driver or worker (e.g. by gymnasium's "
    'AsyncVectorEnv, or RLlib\'s gym_env_vectorize_mode="async"): Ray cannot be used in a forked child, so '
    "the curriculum actor cannot be reached. Build synced envs in the Ray process itself: synchronous "
    'vectorization (RLlib: gym_env_vectorize_mode="sync", the default, and more num_env_runners), or '
    "one Ray actor per env (RayVecEnv)."
)
"""What a sync wrapper in a process forked from a Ray process says."""

_forked_from_ray = False


def _after_fork_in_child() -> None:
    global _forked_from_ray
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        _forked_from_ray = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_from_ray() -> bool:
    """Whether this process was forked from a process in which Ray was initialized (Ray is unusable here)."""
    return _forked_from_ray


class RayTransport:
    """One environment's channel to the curriculum actor: a local batch, then a queue of unanswered calls.

    ``send`` appends to a local batch; the batch travels as one actor call when it holds
    ``batch_size`` messages, when the env would otherwise wait for a reply (``recv`` with no
    answered call to read), and on ``close``. Each call returns the replies to its messages, in order.

    Args:
        actor: Handle of the curriculum actor.
        actor_label: Its name and namespace, as [`label`][syllabus.core.ray.calls.label] gives them.
        timeout: Seconds a send under backpressure, and ``close``, may wait for the actor.
        max_in_flight: Calls sent and not yet answered before a send waits for the oldest one.
        batch_size: Messages per call.
    """

    def __init__(
        self, actor: ActorHandle, actor_label: str, timeout: float, max_in_flight: int, batch_size: int
    ) -> None:
        self._ray = ray_module()
        self._actor = actor
        self._label = actor_label
        self._actor_named = f"the curriculum actor {actor_label}"
        self._timeout = timeout
        self._max_in_flight = max_in_flight
        self._batch_size = batch_size
        self._session = uuid.uuid4().hex
        self._batch: list[Any] = []  # messages not sent yet, oldest first
        self._pending: deque[Any] = deque()  # object refs of sent batches, oldest first
        self._replies: deque[Any] = deque()  # replies received, not yet read

    def send(self, message: Any) -> None:
        self._batch.append(message)
        if len(self._batch) >= self._batch_size:
            self._flush()

    def recv(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not self._replies:
            if self._batch and not self._oldest_answered():
                self._flush()  # the env is about to wait: what it holds may be what it waits for
            if not self._pending:
                raise TimeoutError  # nothing asked for is outstanding: no reply can come
            try:
                self._settle_oldest(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                if time.monotonic() >= deadline:  # Ray rounds timeouts down to whole milliseconds
                    raise
        return self._replies.popleft()

    def close(self) -> None:
        """Sends the batch, waits (up to the timeout) until the actor has applied every message, forgets them."""
        try:
            if self._batch:
                self._flush()
        except CurriculumError as exc:  # the actor is dead, or stuck under backpressure
            logger.warning(
                "closing an env without sending its last %d messages to the curriculum actor %s: %s",
                len(self._batch),
                self._label,
                exc,
            )
        finally:
            self._batch.clear()
            if self._pending:
                pending = list(self._pending)
                done, _ = self._ray.wait(pending, num_returns=len(pending), timeout=self._timeout)
                if len(done) < len(pending):
                    logger.warning(
                        "closing an env before the curriculum actor %s applied its last %d batches of messages",
                        self._label,
                        len(pending) - len(done),
                    )
            self._pending.clear()
            self._replies.clear()

    def _flush(self) -> None:
        """Sends the local batch as one actor call, first waiting for the oldest call when too many are unanswered."""
        if len(self._pending) >= self._max_in_flight:
            try:
                self._settle_oldest(self._timeout)
            except TimeoutError:
                raise CurriculumTimeoutError(
                    f"the curriculum actor {self._label} applied none of the {self._max_in_flight} batches of "
                    f"updates in flight within {self._timeout:g} s: it is blocked or very slow. Raise `timeout` "
                    "if this is expected."
                ) from None
        batch, self._batch = self._batch, []
        self._pending.append(self._actor.env_messages.remote(self._session, dumps(batch)))

    def _oldest_answered(self) -> bool:
        """Whether the oldest call in flight has its replies already (checked without waiting)."""
        if not self._pending:
            return False
        done, _ = self._ray.wait([self._pending[0]], num_returns=1, timeout=0)
        return bool(done)

    def _settle_oldest(self, timeout: float) -> None:
        """Waits for the replies to the oldest call in flight.

        Raises:
            CurriculumTimeoutError: They are late (a ``TimeoutError``: the callers say what it means).
            CurriculumConnectionError: The actor is dead.
            CurriculumError: The actor failed to apply the call.
        """
        try:
            replies = result_of(self._pending[0], timeout, self._actor_named)
        except self._ray.exceptions.RayError as exc:
            raise CurriculumError(
                f"the curriculum actor {self._label} failed to apply a message: {exc}"
            ) from None
        self._pending.popleft()
        if replies is not None:
            self._replies.extend(loads(replies))


def _identify(actor: ActorHandle, timeout: float) -> str:
    """The label (name and namespace) of the curriculum actor behind a handle."""
    try:
        name, namespace = result_of(
            actor.identity.remote(), timeout, f"the curriculum actor {actor} given as `actor`"
        )
    except ray_module().exceptions.RayError as exc:
        raise CurriculumConnectionError(
            f"the handle given as `actor` ({actor}) is not a curriculum actor from make_ray_curriculum: {exc}"
        ) from None
    return label(name, namespace)


def _connector(
    name: str,
    namespace: str | None,
    actor: ActorHandle | None,
    timeout: float,
    max_in_flight: int,
    batch_size: int,
) -> Callable[[], RayTransport]:
    def connect() -> RayTransport:
        if _forked_from_ray:
            raise CurriculumConnectionError(FORK_FIX)
        if actor is None:
            found, found_label = find_actor(name, namespace), label(name, namespace)
        else:
            found, found_label = actor, _identify(actor, timeout)
        return RayTransport(found, found_label, timeout, max_in_flight, batch_size)

    return connect


def ray_connector(
    curriculum_name: str,
    namespace: str | None,
    actor: ActorHandle | None,
    timeout: float,
    prefetch: int,
    max_in_flight: int,
    batch_size: int | None,
) -> tuple[Callable[[], RayTransport], int]:
    """Checks the arguments of a Ray sync wrapper; returns how to connect and the batch size it uses.

    Raises:
        TypeError: ``actor`` is not an actor handle.
        ValueError: A count is out of range.
    """
    if actor is not None and not isinstance(actor, ray_module().actor.ActorHandle):
        raise TypeError(
            f"actor must be the curriculum actor's handle (the `actor` attribute of what "
            f"make_ray_curriculum returned), got {actor!r}"
        )
    max_in_flight = check_count("max_in_flight", max_in_flight, 1)
    prefetch = check_count("prefetch", prefetch, 0)
    if batch_size is None:
        batch_size = max(1, min(prefetch, DEFAULT_BATCH_SIZE))
    batch_size = check_count("batch_size", batch_size, 1)
    return _connector(curriculum_name, namespace, actor, timeout, max_in_flight, batch_size), batch_size
