"""The learner's side of the Ray backend: start or attach to the curriculum actor, and call it like the curriculum."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from syllabus.core.checks import check_curriculum, check_seconds
from syllabus.core.curriculum import Curriculum
from syllabus.core.curriculum_wrapper import CurriculumWrapper
from syllabus.core.errors import CurriculumConnectionError
from syllabus.core.ray.actor import find_actor, start_actor, stop
from syllabus.core.ray.calls import DEFAULT_NAME, DEFAULT_TIMEOUT, dumps, label, loads, ray_module, result_of
from syllabus.task_space import TaskSpace

if TYPE_CHECKING:
    from ray.actor import ActorHandle

DEFAULT_START_TIMEOUT = 120.0
"""Seconds [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum] waits for the actor to start."""
# Actor options that would break in-order, exactly-once delivery, or that have their own argument.
_RESERVED_OPTIONS = ("name", "namespace", "max_concurrency", "max_restarts", "max_task_retries")


class _RemoteTraceback(Exception):
    """Carries the traceback of an exception raised inside the curriculum actor."""


class RayCurriculumWrapper(CurriculumWrapper):
    """The learner's handle on a curriculum that runs as a named Ray actor.

    Use it like the curriculum it wraps: every Curriculum method (and any other public method or
    attribute of the curriculum) is forwarded to the actor and returns the real result; an
    exception raised by the curriculum is re-raised here as the same exception, chained to its
    traceback in the actor. Once the curriculum has failed while serving environments, every
    call raises [`CurriculumError`][syllabus.core.errors.CurriculumError] with that traceback. Thread-safe.

    Close it ([`close`][syllabus.core.ray.handle.RayCurriculumWrapper.close] or a ``with`` block) after closing the environments: their ``close()``
    waits until the actor has applied their updates. Only the owner, the wrapper returned by
    [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum], stops the actor: closing it lets the actor apply the updates that
    reached it, then kills it; so do garbage collection and interpreter exit, and the actor dies
    with the Ray driver. A handle from [`attach_ray_curriculum`][syllabus.core.ray.handle.attach_ray_curriculum] (``owner=False``) never kills
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
            self._stop_on_close(stop, actor, label(name, namespace), timeout)

    def _get(self, ref: Any) -> Any:
        ok, value = loads(
            result_of(ref, self.timeout, f"the curriculum actor {label(self.name, self.namespace)}")
        )
        if not ok:
            error, tb = value
            raise error from _RemoteTraceback(f"raised in the curriculum actor {self.name!r}:\n{tb}")
        return value

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(self.actor.call.remote(name, dumps((args, kwargs))))

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
    ray = ray_module()
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
    actor, task_space = start_actor(curriculum, name, namespace, start_timeout, options)
    return RayCurriculumWrapper(actor, name, namespace, timeout, task_space, owner=True)


def attach_ray_curriculum(
    name: str = DEFAULT_NAME, namespace: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> RayCurriculumWrapper:
    """A learner-side handle on a running curriculum actor, found by name, that never kills it.

    Use it in any process of the Ray cluster other than the one that called
    [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum] (a Tune trial, an RLlib callback or learner, an evaluation
    script) to call the curriculum like the owner does, e.g. ``custom_update`` or ``log_metrics``.
    Closing it, or dropping it, leaves the actor running: only the wrapper returned by
    [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum] owns (and kills) it.

    Example:
        >>> curriculum = attach_ray_curriculum("curriculum")
        >>> curriculum.custom_update(...)  # doctest: +SKIP

    Args:
        name: The actor's name, as given to ``make_ray_curriculum``.
        namespace: The actor's Ray namespace; ``None`` is the current job's.
        timeout: Seconds a call may wait for the actor.

    Returns:
        A [`RayCurriculumWrapper`][syllabus.core.ray.handle.RayCurriculumWrapper] with ``owner=False``.

    Raises:
        CurriculumConnectionError: Ray is not initialized here, no such actor exists, or it is dead.
        CurriculumTimeoutError: The actor did not answer within ``timeout``.
    """
    if timeout <= 0:
        raise ValueError(f"need timeout > 0, got timeout={timeout}")
    actor = find_actor(name, namespace)
    _, task_space = loads(
        result_of(actor.task_space.remote(), timeout, f"the curriculum actor {label(name, namespace)}")
    )
    return RayCurriculumWrapper(actor, name, namespace, timeout, task_space)
