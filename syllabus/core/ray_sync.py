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

from syllabus.core.deprecation import moved_module

__getattr__ = moved_module(
    __name__,
    "syllabus.core.ray.calls",  # a name is looked up in order: each module before those importing it
    "syllabus.core.ray.transport",
    "syllabus.core.ray.env_wrapper",
    "syllabus.core.ray.handle",
    renamed={"_find_actor": ("syllabus.core.ray.actor", "find_actor")},
)
