"""Ray synchronization: the curriculum as a named Ray actor, environments on any Ray worker.

[`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum] moves the curriculum into a
Ray actor registered under a name; the returned
[`RayCurriculumWrapper`][syllabus.core.ray.handle.RayCurriculumWrapper] forwards every Curriculum
method to it from the learner. Each [`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper]
finds the actor by name (or takes its handle) in whatever Ray process builds the env, and speaks
the message protocol of `syllabus.core.messages` with it: the actor applies every message through
the same `CurriculumDispatcher` as the multiprocessing backend, so both backends behave alike.
Environment messages travel in batches of fire-and-forget actor calls, in order, with
backpressure (`syllabus.core.ray.transport`).

One module per job:

- `actor`: the curriculum actor; how it is started, found ([`find_actor`][syllabus.core.ray.actor.find_actor]) and stopped;
- `handle`: the learner's side (`make_ray_curriculum`, `attach_ray_curriculum`, `RayCurriculumWrapper`);
- `transport`: the environment's side, its batched channel to the actor;
- `env_wrapper`: `RaySyncWrapper`;
- `calls`: Ray imported on first use, pickling, and the one bounded wait for an actor's answer,
  which turns Ray's timeout and dead-actor errors into
  [`CurriculumTimeoutError`][syllabus.core.errors.CurriculumTimeoutError] and
  [`CurriculumConnectionError`][syllabus.core.errors.CurriculumConnectionError].

Importing this package does not import Ray; the functions and classes do, when used.
"""

from syllabus.core.ray.actor import find_actor
from syllabus.core.ray.calls import DEFAULT_NAME, DEFAULT_TIMEOUT
from syllabus.core.ray.env_wrapper import RaySyncWrapper
from syllabus.core.ray.handle import (
    DEFAULT_START_TIMEOUT,
    RayCurriculumWrapper,
    attach_ray_curriculum,
    make_ray_curriculum,
)
from syllabus.core.ray.transport import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_PREFETCH,
    FORK_FIX,
    forked_from_ray,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_NAME",
    "DEFAULT_PREFETCH",
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "FORK_FIX",
    "RayCurriculumWrapper",
    "RaySyncWrapper",
    "attach_ray_curriculum",
    "find_actor",
    "forked_from_ray",
    "make_ray_curriculum",
]
