"""Ray synchronization: the curriculum as a named Ray actor, environments on any Ray worker.

``make_ray_curriculum`` moves the curriculum into a Ray actor registered under a name; the
returned [`RayCurriculumWrapper`][syllabus.core.ray_sync.RayCurriculumWrapper] forwards every Curriculum method to it from the learner.
Each [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper] finds the actor by name (or takes its handle) in whatever Ray
process builds the env, and speaks the message protocol of `syllabus.core.protocol` with
it: the actor applies every message through the same `CurriculumDispatcher` as the
multiprocessing backend, so both backends behave alike.

Environment messages travel in batches, as fire-and-forget actor calls: each env keeps its
messages in a local batch of up to ``batch_size``, sent as one call when full, when the env
would otherwise wait for a reply, and on close. Ray runs the calls of one caller on an actor
without concurrency (``max_concurrency=1``) in the order they were submitted, the actor applies
a batch's messages in order, and each env reads the replies in that same order; at most
``max_in_flight`` calls are unanswered per env, beyond which a send waits for the oldest one
(backpressure, never loss).

Importing this module does not import Ray; the functions and classes do, when used.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from syllabus.core.checks import check_count, check_curriculum, check_seconds
from syllabus.core.curriculum import Curriculum
from syllabus.core.curriculum_wrapper import CurriculumWrapper
from syllabus.core.env_sync import SyncWrapper
from syllabus.core.errors import CurriculumConnectionError, CurriculumError, CurriculumTimeoutError
from syllabus.core.protocol import CurriculumDispatcher
from syllabus.task_space import TaskSpace

if TYPE_CHECKING:
    from ray.actor import ActorHandle

logger = logging.getLogger(__name__)

DEFAULT_NAME = "curriculum"
DEFAULT_TIMEOUT = 60.0
DEFAULT_START_TIMEOUT = 120.0
DEFAULT_MAX_IN_FLIGHT = 32
DEFAULT_PREFETCH = 8
DEFAULT_BATCH_SIZE = 8
# Actor options that would break in-order, exactly-once delivery, or that have their own argument.
_RESERVED_OPTIONS = ("name", "namespace", "max_concurrency", "max_restarts", "max_task_retries")


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


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'syllabus-curriculum[ray]'") from None
    return ray


def _label(name: str, namespace: str | None) -> str:
    return f"{name!r}" if namespace is None else f"{name!r} (namespace {namespace!r})"


class _RemoteTraceback(Exception):
    """Carries the traceback of an exception raised inside the curriculum actor."""


def _dumps(obj: Any) -> bytes:
    return _ray().cloudpickle.dumps(obj)


def _loads(data: bytes) -> Any:
    return pickle.loads(data)


def _outcome(action: Callable[[], Any]) -> bytes:
    """Runs ``action``; pickles ``(True, result)``, or ``(False, (exception, traceback))`` if it raised."""
    try:
        return _dumps((True, action()))
    except Exception as exc:  # noqa: BLE001 - re-raised on the learner side
        tb = traceback.format_exc()
        try:
            data = _dumps((False, (exc, tb)))
            _loads(data)  # an exception whose __init__ cannot rebuild it from its args fails here
        except Exception:  # noqa: BLE001 - any pickling failure means the same: send the text instead
            data = _dumps((False, (CurriculumError(f"{type(exc).__name__}: {exc}"), tb)))
        return data


class _CurriculumActor:
    """The curriculum's Ray actor: serves environment messages and the learner's calls, one at a time.

    Arguments and results travel pickled, so both sides get ordinary, writable objects (Ray's own
    transfer would hand over numpy arrays as read-only views). Learner calls never raise here:
    the learner re-raises the curriculum's own exception, and environments get `Failure` replies.
    """

    def __init__(self, curriculum: bytes, name: str, namespace: str | None) -> None:
        self._dispatcher = CurriculumDispatcher(_loads(curriculum), threading.RLock())
        self._identity = (name, namespace)

    def identity(self) -> tuple[str, str | None]:
        """The actor's name and namespace, for environments given only its handle."""
        return self._identity

    def task_space(self) -> bytes:
        return _outcome(lambda: self._dispatcher.curriculum.task_space)

    def env_messages(self, session: str, messages: bytes) -> bytes | None:
        """Applies a batch of messages of the environment connected as ``session``, in order.

        Returns the replies (messages without one add nothing), pickled as a list, or None when there are none.
        """
        replies = [self._dispatcher.receive(session, message) for message in _loads(messages)]
        sent = [reply for reply in replies if reply is not None]
        return _dumps(sent) if sent else None

    def settle(self) -> None:
        """Returns once the calls that reached the actor before it have been applied (they run in order)."""

    def call(self, name: str, arguments: bytes) -> bytes:
        """Calls curriculum method ``name`` with the pickled ``(args, kwargs)``."""

        def action() -> Any:
            args, kwargs = _loads(arguments)
            with self._dispatcher.lock:
                self._dispatcher.raise_if_failed()
                return getattr(self._dispatcher.curriculum, name)(*args, **kwargs)

        return _outcome(action)

    def lookup(self, name: str) -> bytes:
        """``None`` for a method, ``(value,)`` for another attribute."""

        def action() -> Any:
            with self._dispatcher.lock:
                self._dispatcher.raise_if_failed()
                attr = getattr(self._dispatcher.curriculum, name)
            return None if callable(attr) else (attr,)

        return _outcome(action)

    def snapshot(self) -> bytes:
        with self._dispatcher.lock:
            return _outcome(lambda: self._dispatcher.curriculum)


@functools.cache
def _actor_class() -> Any:
    return _ray().remote(_CurriculumActor)


def _kill(actor: ActorHandle) -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.kill(actor, no_restart=True)


def _stop(actor: ActorHandle, label: str, timeout: float) -> None:
    """Lets the actor apply every message that reached it (up to ``timeout``), then kills it."""
    ray = _ray()
    if not ray.is_initialized():
        return  # Ray is shut down, and the actor with it
    try:
        ray.get(actor.settle.remote(), timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        logger.warning(
            "the curriculum actor %s did not apply the updates in flight within %g s; closing it anyway",
            label,
            timeout,
        )
    except ray.exceptions.RayError:
        pass  # already dead: nothing left to apply
    finally:
        ray.kill(actor, no_restart=True)


class RayCurriculumWrapper(CurriculumWrapper):
    """The learner's handle on a curriculum that runs as a named Ray actor.

    Use it like the curriculum it wraps: every Curriculum method (and any other public method or
    attribute of the curriculum) is forwarded to the actor and returns the real result; an
    exception raised by the curriculum is re-raised here as the same exception, chained to its
    traceback in the actor. Once the curriculum has failed while serving environments, every
    call raises [`CurriculumError`][syllabus.core.errors.CurriculumError] with that traceback. Thread-safe.

    Close it ([`close`][syllabus.core.ray_sync.RayCurriculumWrapper.close] or a ``with`` block) after closing the environments: their ``close()``
    waits until the actor has applied their updates. Only the owner, the wrapper returned by
    [`make_ray_curriculum`][syllabus.core.ray_sync.make_ray_curriculum], stops the actor: closing it lets the actor apply the updates that
    reached it, then kills it; so do garbage collection and interpreter exit, and the actor dies
    with the Ray driver. A handle from [`attach_ray_curriculum`][syllabus.core.ray_sync.attach_ray_curriculum] (``owner=False``) never kills
    the actor; closing or dropping it only forgets the actor.

    Args:
        actor: Handle of the curriculum actor.
        name: The actor's name.
        namespace: The actor's Ray namespace (``None``: the job's).
        timeout: Seconds a forwarded call may take before raising.
        task_space: The curriculum's task space.
        owner: Whether closing (or garbage collecting) this wrapper kills the actor; ``False`` unless
            asked for, so a handle built by hand never kills a curriculum others use.
    """

    def __init__(
        self,
        actor: ActorHandle,
        name: str,
        namespace: str | None,
        timeout: float,
        task_space: TaskSpace,
        *,
        owner: bool = False,
    ) -> None:
        # The base class's state (a dispatcher and its lock) lives in the actor; only _call differs.
        self.actor = actor
        self.name = name
        self.namespace = namespace
        self.timeout = timeout
        self._task_space = task_space
        self._methods: set[str] = set()
        self.owner = owner
        if owner:
            self._stop_on_close(_stop, actor, _label(name, namespace), timeout)

    def _get(self, ref: Any) -> Any:
        ray = _ray()
        try:
            ok, value = _loads(ray.get(ref, timeout=self.timeout))
        except ray.exceptions.GetTimeoutError:
            raise CurriculumTimeoutError(
                f"the curriculum actor {_label(self.name, self.namespace)} did not answer within "
                f"{self.timeout:g} s; it is blocked or very slow. Raise `timeout` if this is expected."
            ) from None
        except ray.exceptions.RayActorError as exc:
            raise CurriculumConnectionError(
                f"the curriculum actor {_label(self.name, self.namespace)} is dead "
                f"(closed, killed, or its node failed): {exc}"
            ) from None
        if not ok:
            error, tb = value
            raise error from _RemoteTraceback(f"raised in the curriculum actor {self.name!r}:\n{tb}")
        return value

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(self.actor.call.remote(name, _dumps((args, kwargs))))

    @property
    def task_space(self) -> TaskSpace:
        """The curriculum's task space."""
        return self._task_space

    @property
    def num_tasks(self) -> int | None:
        """Number of tasks, ``None`` when the task space is not enumerable."""
        return self._attribute("num_tasks")

    @property
    def requires_step_updates(self) -> bool:
        """Whether environments send step updates to this curriculum."""
        return self._attribute("requires_step_updates")

    def log_metrics(
        self, writer: Any = None, step: int | None = None, max_tasks: int = 10
    ) -> dict[str, float]:
        """See [`Curriculum.log_metrics`][syllabus.core.curriculum.Curriculum.log_metrics]; the metrics come from the actor, the writing happens here.

        Args:
            writer: Where to log: an object with ``add_scalar(tag, value, step)`` (e.g. TensorBoard's ``SummaryWriter``), a dict to update, or ``None`` to only return the metrics.
            step: Global step to log the metrics at (the writer's x axis).
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        # Curriculum.log_metrics only needs self.metrics, which this wrapper forwards to the actor.
        return Curriculum.log_metrics(self, writer, step, max_tasks)  # type: ignore[arg-type]

    def snapshot(self) -> Curriculum:
        """A copy of the curriculum as it is in the actor now (changing it changes nothing there)."""
        return self._get(self.actor.snapshot.remote())

    def _attribute(self, name: str) -> Any:
        found = self._get(self.actor.lookup.remote(name))
        if found is None:
            raise AttributeError(f"{name!r} of the curriculum is a method, not an attribute")
        return found[0]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._methods:
            found = self._get(self.actor.lookup.remote(name))
            if found is not None:
                return found[0]
            self._methods.add(name)
        return functools.partial(self._call, name)

    def __reduce__(self) -> Any:
        raise TypeError(
            "the curriculum wrapper cannot be sent to other processes: env factories need no handle "
            "(RaySyncWrapper finds the actor by name), or pass them `actor = curriculum.actor`"
        )

    def close(self) -> None:
        """Lets the actor apply every update that reached it (up to ``timeout``), then kills it. Idempotent.

        Updates an environment sent are sure to be applied once that environment is closed (its
        ``close()`` waits for them), or when it runs in this process (Ray keeps one caller's calls in order).
        """
        super().close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, namespace={self.namespace!r})"


def make_ray_curriculum(
    curriculum: Curriculum,
    name: str = DEFAULT_NAME,
    namespace: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    actor_options: dict[str, Any] | None = None,
) -> RayCurriculumWrapper:
    """Moves ``curriculum`` into a Ray actor named ``name`` that environments on any Ray worker find.

    Call ``ray.init()`` (or ``ray.init(address=...)`` for an existing cluster) first.

    Example:
        >>> curriculum = make_ray_curriculum(curriculum)
        >>> env = RaySyncWrapper(env)  # in each env factory, on any Ray worker of the job

    Args:
        curriculum: The curriculum to serve; it is pickled into the actor.
        name: Name of the actor; environments look it up by this name.
        namespace: Ray namespace of the actor; ``None`` is the current job's namespace.
        timeout: Seconds a learner-side call may wait for the actor.
        start_timeout: Seconds to wait for the actor to start (a new Ray worker process, or a node).
        actor_options: Extra Ray actor options (e.g. ``num_cpus``, ``scheduling_strategy``). By
            default the actor reserves no CPU and is placed on the driver's node, always (hard node
            affinity), so losing a worker node never takes the curriculum with it; pass a
            ``scheduling_strategy`` to place it elsewhere.

    Returns:
        The learner's handle on the curriculum, used like the curriculum itself.

    Raises:
        TypeError: ``curriculum`` is not a [`Curriculum`][syllabus.core.curriculum.Curriculum].
        ValueError: A timeout is not a finite number of seconds > 0, or ``name``, ``namespace`` or
            ``actor_options`` is not valid.
        CurriculumConnectionError: Ray is not initialized, or the actor failed to start.
        CurriculumError: An actor named ``name`` already exists in the namespace.
    """
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    check_curriculum(curriculum, "make_ray_curriculum")
    timeout = check_seconds("timeout", timeout)
    start_timeout = check_seconds("start_timeout", start_timeout)
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string (the actor's name), got {name!r}")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ValueError(f"namespace must be None or a non-empty string, got {namespace!r}")
    if actor_options is not None and not isinstance(actor_options, dict):
        raise TypeError(f"actor_options must be a dict of Ray actor options, got {actor_options!r}")
    reserved = sorted(set(actor_options or {}) & set(_RESERVED_OPTIONS))
    if reserved:
        raise ValueError(
            f"actor_options may not set {reserved}: pass name/namespace as arguments; concurrency, restarts "
            "and retries would break in-order, exactly-once delivery"
        )
    if not ray.is_initialized():
        raise CurriculumConnectionError(
            "Ray is not initialized: call ray.init() (a local Ray) or ray.init(address=...) (an existing "
            "cluster) before make_ray_curriculum"
        )
    options = {
        "num_cpus": 0,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False
        ),
        **(actor_options or {}),
        "name": name,
        "namespace": namespace,
        "max_concurrency": 1,
    }
    try:
        actor = _actor_class().options(**options).remote(_dumps(curriculum), name, namespace)
    except ray.exceptions.ActorAlreadyExistsError:
        raise CurriculumError(
            f"a Ray actor named {_label(name, namespace)} already exists: close that curriculum first, or pass "
            f"another name to make_ray_curriculum (and the same curriculum_name to RaySyncWrapper)"
        ) from None
    try:
        _, task_space = _loads(ray.get(actor.task_space.remote(), timeout=start_timeout))
    except ray.exceptions.GetTimeoutError:
        _kill(actor)
        raise CurriculumConnectionError(
            f"the curriculum actor {_label(name, namespace)} did not start within {start_timeout:g} s: the "
            "cluster may lack the resources in actor_options; raise `start_timeout` if it is only slow"
        ) from None
    except ray.exceptions.ActorUnschedulableError as exc:
        _kill(actor)
        raise CurriculumConnectionError(
            f"the curriculum actor {_label(name, namespace)} cannot be placed: {exc} (by default it goes on the "
            "driver's node, which must have the resources in actor_options; pass a scheduling_strategy to place it "
            "elsewhere)"
        ) from None
    except ray.exceptions.RayActorError as exc:
        _kill(actor)
        raise CurriculumConnectionError(
            f"the curriculum actor {_label(name, namespace)} failed to start: {exc}"
        ) from None
    return RayCurriculumWrapper(actor, name, namespace, timeout, task_space, owner=True)


def attach_ray_curriculum(
    name: str = DEFAULT_NAME, namespace: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> RayCurriculumWrapper:
    """A learner-side handle on a running curriculum actor, found by name, that never kills it.

    Use it in any process of the Ray cluster other than the one that called
    [`make_ray_curriculum`][syllabus.core.ray_sync.make_ray_curriculum] (a Tune trial, an RLlib callback or learner, an evaluation
    script) to call the curriculum like the owner does, e.g. ``custom_update`` or ``log_metrics``.
    Closing it, or dropping it, leaves the actor running: only the wrapper returned by
    [`make_ray_curriculum`][syllabus.core.ray_sync.make_ray_curriculum] owns (and kills) it.

    Example:
        >>> curriculum = attach_ray_curriculum("curriculum")
        >>> curriculum.custom_update(...)  # doctest: +SKIP

    Args:
        name: The actor's name, as given to ``make_ray_curriculum``.
        namespace: The actor's Ray namespace; ``None`` is the current job's.
        timeout: Seconds a call may wait for the actor.

    Returns:
        A [`RayCurriculumWrapper`][syllabus.core.ray_sync.RayCurriculumWrapper] with ``owner=False``.

    Raises:
        CurriculumConnectionError: Ray is not initialized here, no such actor exists, or it is dead.
        CurriculumTimeoutError: The actor did not answer within ``timeout``.
    """
    ray = _ray()
    if timeout <= 0:
        raise ValueError(f"need timeout > 0, got timeout={timeout}")
    actor = _find_actor(name, namespace)
    try:
        _, task_space = _loads(ray.get(actor.task_space.remote(), timeout=timeout))
    except ray.exceptions.GetTimeoutError:
        raise CurriculumTimeoutError(
            f"the curriculum actor {_label(name, namespace)} did not answer within {timeout:g} s; it is "
            "blocked or very slow. Raise `timeout` if this is expected."
        ) from None
    except ray.exceptions.RayActorError as exc:
        raise CurriculumConnectionError(
            f"the curriculum actor {_label(name, namespace)} is dead (closed, killed, or its node failed): {exc}"
        ) from None
    return RayCurriculumWrapper(actor, name, namespace, timeout, task_space)


class _RayTransport:
    """One environment's channel to the curriculum actor: a local batch, then a queue of unanswered calls.

    ``send`` appends to a local batch; the batch travels as one actor call when it holds
    ``batch_size`` messages, when the env would otherwise wait for a reply (``recv`` with no
    answered call to read), and on ``close``. Each call returns the replies to its messages, in order.
    """

    def __init__(
        self, actor: ActorHandle, label: str, timeout: float, max_in_flight: int, batch_size: int
    ) -> None:
        self._ray = _ray()
        self._actor = actor
        self._label = label
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
        self._pending.append(self._actor.env_messages.remote(self._session, _dumps(batch)))

    def _oldest_answered(self) -> bool:
        """Whether the oldest call in flight has its replies already (checked without waiting)."""
        if not self._pending:
            return False
        done, _ = self._ray.wait([self._pending[0]], num_returns=1, timeout=0)
        return bool(done)

    def _settle_oldest(self, timeout: float) -> None:
        """Waits for the replies to the oldest call in flight; raises TimeoutError when they are late."""
        exceptions = self._ray.exceptions
        try:
            replies = self._ray.get(self._pending[0], timeout=timeout)
        except exceptions.GetTimeoutError:
            raise TimeoutError from None
        except exceptions.RayActorError as exc:
            raise CurriculumConnectionError(
                f"the curriculum actor {self._label} is dead (closed, killed, or its node failed): {exc}"
            ) from None
        except exceptions.RayError as exc:
            raise CurriculumError(
                f"the curriculum actor {self._label} failed to apply a message: {exc}"
            ) from None
        self._pending.popleft()
        if replies is not None:
            self._replies.extend(_loads(replies))


def _find_actor(name: str, namespace: str | None) -> ActorHandle:
    ray = _ray()
    if not ray.is_initialized():
        raise CurriculumConnectionError(
            f"Ray is not initialized in this process, so the curriculum actor {_label(name, namespace)} cannot "
            "be found: build RaySyncWrapper envs in the Ray driver or in Ray workers (e.g. in RayVecEnv)"
        )
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise CurriculumConnectionError(
            f"no curriculum actor named {_label(name, namespace)} in this Ray cluster: create it with "
            f"make_ray_curriculum(curriculum, name={name!r}) before the envs reset, and pass the same namespace "
            "to both when the envs run in another Ray job"
        ) from None


def _identify(actor: ActorHandle, timeout: float) -> str:
    """The label (name and namespace) of the curriculum actor behind a handle."""
    ray = _ray()
    try:
        name, namespace = ray.get(actor.identity.remote(), timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        raise CurriculumTimeoutError(
            f"the curriculum actor {actor} given as `actor` did not answer within {timeout:g} s: it is blocked "
            "or very slow. Raise `timeout` if this is expected."
        ) from None
    except ray.exceptions.RayActorError as exc:
        raise CurriculumConnectionError(
            f"the curriculum actor {actor} given as `actor` is dead (closed, killed, or its node failed): {exc}"
        ) from None
    except ray.exceptions.RayError as exc:
        raise CurriculumConnectionError(
            f"the handle given as `actor` ({actor}) is not a curriculum actor from make_ray_curriculum: {exc}"
        ) from None
    return _label(name, namespace)


def _connector(
    name: str,
    namespace: str | None,
    actor: ActorHandle | None,
    timeout: float,
    max_in_flight: int,
    batch_size: int,
) -> Callable[[], _RayTransport]:
    def connect() -> _RayTransport:
        if _forked_from_ray:
            raise CurriculumConnectionError(FORK_FIX)
        if actor is None:
            found, label = _find_actor(name, namespace), _label(name, namespace)
        else:
            found, label = actor, _identify(actor, timeout)
        return _RayTransport(found, label, timeout, max_in_flight, batch_size)

    return connect


def ray_connector(
    curriculum_name: str,
    namespace: str | None,
    actor: ActorHandle | None,
    timeout: float,
    prefetch: int,
    max_in_flight: int,
    batch_size: int | None,
) -> tuple[Callable[[], _RayTransport], int]:
    """Checks the arguments of a Ray sync wrapper; returns how to connect and the batch size it uses.

    Raises:
        TypeError: ``actor`` is not an actor handle.
        ValueError: A count is out of range.
    """
    if actor is not None and not isinstance(actor, _ray().actor.ActorHandle):
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


class RaySyncWrapper(SyncWrapper):
    """Connects an environment to a curriculum served by [`make_ray_curriculum`][syllabus.core.ray_sync.make_ray_curriculum].

    Build it in the env factory, in any Ray process of the job (a Ray actor such as the workers
    of [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv], or the driver); the actor is looked
    up at the first reset. In a process forked from a Ray process (e.g. gymnasium's AsyncVectorEnv
    inside a Ray worker), where Ray cannot be used, the first reset raises
    [`CurriculumConnectionError`][syllabus.core.errors.CurriculumConnectionError] saying so, instead of hanging.
    See [`SyncWrapper`][syllabus.core.env_sync.SyncWrapper] for what it does on
    reset and step. Updates are sent without waiting, several per actor call (``batch_size``);
    [`close`][syllabus.core.env_sync.SyncWrapper.close] sends those still held and waits (up to ``timeout``) until the curriculum has
    applied them.

    Args:
        env: A task env, or wrapped in a TaskWrapper directly beneath this wrapper.
        curriculum_name: Name given to ``make_ray_curriculum``.
        namespace: Ray namespace of the curriculum actor; ``None`` is the current job's.
        actor: The curriculum actor's handle (``curriculum.actor``); skips the lookup by name
            (``curriculum_name`` and ``namespace`` are then unused: errors name the actor's own name).
        env_id: Identifier reported with updates; assigned in connection order when ``None``.
        timeout: Seconds a reset (or a send under backpressure) may wait for the curriculum.
        prefetch: Tasks kept ready beyond the one the next reset takes. Tasks are sampled this
            many episodes ahead of their use.
        step_batch_size: Steps per step-update message (only for curricula that need step updates).
        max_in_flight: Actor calls (batches) sent and not yet applied by the curriculum before a send waits.
        batch_size: Messages (mostly episode updates, each asking for a task) sent together in one
            actor call; ``None`` is ``min(prefetch, 8)``, at least 1. The env also sends its batch
            early when a reset would otherwise wait for a task, and on [`close`][syllabus.core.env_sync.SyncWrapper.close]. Larger batches
            cost less CPU per episode, and the curriculum sees each update up to ``batch_size - 1``
            episodes later. With ``batch_size <= prefetch`` a reset never waits on a task request
            still held in the batch.
    """

    def __init__(
        self,
        env: gym.Env,
        curriculum_name: str = DEFAULT_NAME,
        namespace: str | None = None,
        actor: ActorHandle | None = None,
        *,
        env_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        prefetch: int = DEFAULT_PREFETCH,
        step_batch_size: int = 64,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        batch_size: int | None = None,
    ) -> None:
        connect, batch_size = ray_connector(
            curriculum_name, namespace, actor, timeout, prefetch, max_in_flight, batch_size
        )
        super().__init__(
            env,
            connect,
            env_id=env_id,
            timeout=timeout,
            prefetch=prefetch,
            step_batch_size=step_batch_size,
        )
        self.batch_size = batch_size
