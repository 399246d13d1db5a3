"""The curriculum's Ray actor: how it serves calls, how it is started, found and stopped."""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from syllabus.core.curriculum import Curriculum
from syllabus.core.dispatcher import CurriculumDispatcher
from syllabus.core.errors import CurriculumConnectionError, CurriculumError, CurriculumTimeoutError
from syllabus.core.ray.calls import dumps, label, loads, ray_module, result_of
from syllabus.task_space import TaskSpace

if TYPE_CHECKING:
    from ray.actor import ActorHandle

logger = logging.getLogger(__name__)


def outcome(action: Callable[[], Any]) -> bytes:
    """Runs ``action``; pickles ``(True, result)``, or ``(False, (exception, traceback))`` if it raised."""
    try:
        return dumps((True, action()))
    except Exception as exc:  # noqa: BLE001 - re-raised on the learner side
        tb = traceback.format_exc()
        try:
            data = dumps((False, (exc, tb)))
            loads(data)  # an exception whose __init__ cannot rebuild it from its args fails here
        except Exception:  # noqa: BLE001 - any pickling failure means the same: send the text instead
            data = dumps((False, (CurriculumError(f"{type(exc).__name__}: {exc}"), tb)))
        return data


class CurriculumActor:
    """The curriculum's Ray actor: serves environment messages and the learner's calls, one at a time.

    Arguments and results travel pickled, so both sides get ordinary, writable objects (Ray's own
    transfer would hand over numpy arrays as read-only views). Learner calls never raise here:
    the learner re-raises the curriculum's own exception, and environments get `Failure` replies.

    Args:
        curriculum: The pickled curriculum.
        name: The actor's name.
        namespace: The actor's Ray namespace (``None``: the job's).
    """

    def __init__(self, curriculum: bytes, name: str, namespace: str | None) -> None:
        self._dispatcher = CurriculumDispatcher(loads(curriculum), threading.RLock())
        self._identity = (name, namespace)

    def identity(self) -> tuple[str, str | None]:
        """The actor's name and namespace, for environments given only its handle."""
        return self._identity

    def task_space(self) -> bytes:
        """The curriculum's task space, as an outcome."""
        return outcome(lambda: self._dispatcher.curriculum.task_space)

    def env_messages(self, session: str, messages: bytes) -> bytes | None:
        """Applies a batch of messages of the environment connected as ``session``, in order.

        Returns the replies (messages without one add nothing), pickled as a list, or None when there are none.
        """
        replies = [self._dispatcher.receive(session, message) for message in loads(messages)]
        sent = [reply for reply in replies if reply is not None]
        return dumps(sent) if sent else None

    def settle(self) -> None:
        """Returns once the calls that reached the actor before it have been applied (they run in order)."""

    def call(self, name: str, arguments: bytes) -> bytes:
        """Calls curriculum method ``name`` with the pickled ``(args, kwargs)``."""

        def action() -> Any:
            args, kwargs = loads(arguments)
            with self._dispatcher.lock:
                self._dispatcher.raise_if_failed()
                return getattr(self._dispatcher.curriculum, name)(*args, **kwargs)

        return outcome(action)

    def lookup(self, name: str) -> bytes:
        """``None`` for a method, ``(value,)`` for another attribute."""

        def action() -> Any:
            with self._dispatcher.lock:
                self._dispatcher.raise_if_failed()
                attr = getattr(self._dispatcher.curriculum, name)
            return None if callable(attr) else (attr,)

        return outcome(action)

    def snapshot(self) -> bytes:
        """The whole curriculum, as an outcome."""
        with self._dispatcher.lock:
            return outcome(lambda: self._dispatcher.curriculum)


@functools.cache
def _actor_class() -> Any:
    return ray_module().remote(CurriculumActor)


def start_actor(
    curriculum: Curriculum, name: str, namespace: str | None, start_timeout: float, options: dict[str, Any]
) -> tuple[ActorHandle, TaskSpace]:
    """Starts the curriculum actor and waits for its first answer; kills it if none comes.

    Args:
        curriculum: The curriculum to serve.
        name: The actor's name.
        namespace: The actor's Ray namespace (``None``: the job's).
        start_timeout: Seconds to wait for the actor to start.
        options: Ray actor options, name and namespace included.

    Returns:
        The actor's handle and the curriculum's task space.

    Raises:
        CurriculumConnectionError: The actor did not start in time, cannot be placed, or failed to start.
        CurriculumError: An actor named ``name`` already exists in the namespace.
    """
    ray = ray_module()
    try:
        actor = _actor_class().options(**options).remote(dumps(curriculum), name, namespace)
    except ray.exceptions.ActorAlreadyExistsError:
        raise CurriculumError(
            f"a Ray actor named {label(name, namespace)} already exists: close that curriculum first, or pass "
            f"another name to make_ray_curriculum (and the same curriculum_name to RaySyncWrapper)"
        ) from None
    try:
        return actor, _first_answer(actor, label(name, namespace), start_timeout)
    except BaseException:  # Ctrl-C included: a half-started actor must not outlive the call
        _kill(actor)
        raise


def _first_answer(actor: ActorHandle, actor_label: str, start_timeout: float) -> TaskSpace:
    """The new actor's first answer, its task space; waits up to ``start_timeout`` for the actor to start."""
    ray = ray_module()
    first: Any = actor.task_space.remote()
    started, _ = ray.wait([first], timeout=start_timeout)
    if not started:
        raise CurriculumConnectionError(
            f"the curriculum actor {actor_label} did not start within {start_timeout:g} s: the "
            "cluster may lack the resources in actor_options; raise `start_timeout` if it is only slow"
        )
    try:
        _, task_space = loads(ray.get(first))
    except ray.exceptions.ActorUnschedulableError as exc:
        raise CurriculumConnectionError(
            f"the curriculum actor {actor_label} cannot be placed: {exc} (by default it goes on the "
            "driver's node, which must have the resources in actor_options; pass a scheduling_strategy to place it "
            "elsewhere)"
        ) from None
    except ray.exceptions.RayActorError as exc:
        raise CurriculumConnectionError(
            f"the curriculum actor {actor_label} failed to start: {exc}"
        ) from None
    return task_space


def _kill(actor: ActorHandle) -> None:
    """Kills the actor, unless Ray is shut down (and the actor with it)."""
    ray = ray_module()
    if ray.is_initialized():
        ray.kill(actor, no_restart=True)


def stop(actor: ActorHandle, actor_label: str, timeout: float) -> None:
    """Lets the actor apply every message that reached it (up to ``timeout``), then kills it.

    Args:
        actor: The curriculum actor.
        actor_label: Its name and namespace, as [`label`][syllabus.core.ray.calls.label] gives them.
        timeout: Seconds to wait for the messages to be applied.
    """
    ray = ray_module()
    if not ray.is_initialized():
        return  # Ray is shut down, and the actor with it
    try:
        result_of(actor.settle.remote(), timeout, f"the curriculum actor {actor_label}")
    except CurriculumTimeoutError:
        logger.warning(
            "the curriculum actor %s did not apply the updates in flight within %g s; closing it anyway",
            actor_label,
            timeout,
        )
    except (CurriculumConnectionError, ray.exceptions.RayError):
        pass  # already dead: nothing left to apply
    finally:
        ray.kill(actor, no_restart=True)


def find_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the curriculum actor named ``name``, looked up in the Ray cluster this process joined.

    Args:
        name: The actor's name, as given to [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum].
        namespace: The actor's Ray namespace; ``None`` is the current job's.

    Returns:
        The actor's handle.

    Raises:
        CurriculumConnectionError: Ray is not initialized in this process, or no such actor exists.
    """
    ray = ray_module()
    if not ray.is_initialized():
        raise CurriculumConnectionError(
            f"Ray is not initialized in this process, so the curriculum actor {label(name, namespace)} cannot "
            "be found: build RaySyncWrapper envs in the Ray driver or in Ray workers (e.g. in RayVecEnv)"
        )
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise CurriculumConnectionError(
            f"no curriculum actor named {label(name, namespace)} in this Ray cluster: create it with "
            f"make_ray_curriculum(curriculum, name={name!r}) before the envs reset, and pass the same namespace "
            "to both when the envs run in another Ray job"
        ) from None
