"""Calls to a Ray actor: Ray imported on first use, values pickled, every wait bounded.

[`result_of`][syllabus.core.ray.calls.result_of] is the one place that turns Ray's timeout and
dead-actor errors into syllabus errors; every wait for the curriculum actor goes through it.
"""

from __future__ import annotations

import pickle
from types import ModuleType
from typing import Any

from syllabus.core.errors import CurriculumConnectionError, CurriculumTimeoutError

DEFAULT_NAME = "curriculum"
"""Name of the curriculum actor when none is given."""
DEFAULT_TIMEOUT = 60.0
"""Seconds a call to the curriculum actor may wait when no timeout is given."""


def ray_module() -> ModuleType:
    """The ``ray`` module, imported now (it is an optional dependency).

    Raises:
        ImportError: Ray is not installed; the message says how to install it.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'syllabus-curriculum[ray]'") from None
    return ray


def label(name: str, namespace: str | None) -> str:
    """How messages name an actor: ``'name'``, or ``'name' (namespace 'namespace')``."""
    return f"{name!r}" if namespace is None else f"{name!r} (namespace {namespace!r})"


def dumps(obj: Any) -> bytes:
    """Pickles ``obj`` with Ray's cloudpickle (so classes defined in ``__main__`` travel too)."""
    return ray_module().cloudpickle.dumps(obj)


def loads(data: bytes) -> Any:
    """Unpickles what [`dumps`][syllabus.core.ray.calls.dumps] made: ordinary, writable objects."""
    return pickle.loads(data)


def result_of(ref: Any, timeout: float, actor: str) -> Any:
    """The result of a Ray actor call, waited for at most ``timeout`` seconds.

    Args:
        ref: Object ref of the call (or a list of refs: then the list of their results).
        timeout: Seconds to wait for the result.
        actor: The actor as messages name it, e.g. ``"the curriculum actor 'curriculum'"``.

    Returns:
        What the call returned.

    Raises:
        CurriculumTimeoutError: No result within ``timeout`` (it is also a ``TimeoutError``).
        CurriculumConnectionError: The actor is dead: closed, killed, or its node failed.
        ray.exceptions.RayError: Any other failure of the call, as Ray raised it.
    """
    ray = ray_module()
    try:
        return ray.get(ref, timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        raise CurriculumTimeoutError(
            f"{actor} did not answer within {timeout:g} s; it is blocked or very slow. Raise `timeout` "
            "if this is expected."
        ) from None
    except ray.exceptions.RayActorError as exc:
        raise CurriculumConnectionError(
            f"{actor} is dead (closed, killed, or its node failed): {exc}"
        ) from None
