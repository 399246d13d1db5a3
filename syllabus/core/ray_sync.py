"""Deprecated: the Ray backend moved to the package `syllabus.core.ray`.

Every name this module held is still importable from it, with a ``DeprecationWarning`` naming
its new module; import from `syllabus.core` (the public API) or `syllabus.core.ray` instead:

| old name in `syllabus.core.ray_sync` | now |
| --- | --- |
| `make_ray_curriculum`, `attach_ray_curriculum`, `RayCurriculumWrapper`, `DEFAULT_START_TIMEOUT` | `syllabus.core.ray.handle` (and `syllabus.core`) |
| `RaySyncWrapper` | `syllabus.core.ray.env_wrapper` (and `syllabus.core`) |
| `_find_actor` | [`find_actor`][syllabus.core.ray.actor.find_actor] in `syllabus.core.ray.actor` |
| `DEFAULT_NAME`, `DEFAULT_TIMEOUT` | `syllabus.core.ray.calls` |
| `DEFAULT_PREFETCH`, `DEFAULT_MAX_IN_FLIGHT`, `DEFAULT_BATCH_SIZE`, `FORK_FIX`, `forked_from_ray`, `ray_connector` | `syllabus.core.ray.transport` |
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers and the API docs see the moved names; at run time __getattr__ warns
    from syllabus.core.ray.env_wrapper import RaySyncWrapper  # noqa: F401
    from syllabus.core.ray.handle import (  # noqa: F401
        RayCurriculumWrapper,
        attach_ray_curriculum,
        make_ray_curriculum,
    )

# Old name -> (new module, new name).
_MOVED = {
    "DEFAULT_NAME": ("syllabus.core.ray.calls", "DEFAULT_NAME"),
    "DEFAULT_TIMEOUT": ("syllabus.core.ray.calls", "DEFAULT_TIMEOUT"),
    "DEFAULT_START_TIMEOUT": ("syllabus.core.ray.handle", "DEFAULT_START_TIMEOUT"),
    "DEFAULT_MAX_IN_FLIGHT": ("syllabus.core.ray.transport", "DEFAULT_MAX_IN_FLIGHT"),
    "DEFAULT_PREFETCH": ("syllabus.core.ray.transport", "DEFAULT_PREFETCH"),
    "DEFAULT_BATCH_SIZE": ("syllabus.core.ray.transport", "DEFAULT_BATCH_SIZE"),
    "FORK_FIX": ("syllabus.core.ray.transport", "FORK_FIX"),
    "forked_from_ray": ("syllabus.core.ray.transport", "forked_from_ray"),
    "ray_connector": ("syllabus.core.ray.transport", "ray_connector"),
    "RayCurriculumWrapper": ("syllabus.core.ray.handle", "RayCurriculumWrapper"),
    "make_ray_curriculum": ("syllabus.core.ray.handle", "make_ray_curriculum"),
    "attach_ray_curriculum": ("syllabus.core.ray.handle", "attach_ray_curriculum"),
    "RaySyncWrapper": ("syllabus.core.ray.env_wrapper", "RaySyncWrapper"),
    "_find_actor": ("syllabus.core.ray.actor", "find_actor"),
}


def __getattr__(name: str) -> Any:
    """Returns a moved name from its new module, with a ``DeprecationWarning`` saying where it is now."""
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, new_name = moved
    warnings.warn(
        f"syllabus.core.ray_sync is deprecated: import {new_name} from {module} instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), new_name)


def __dir__() -> list[str]:
    return sorted(_MOVED)
