"""[`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper]: connects an environment, on any Ray worker, to the curriculum actor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gymnasium as gym

from syllabus.core.env_sync import SyncWrapper
from syllabus.core.ray.calls import DEFAULT_NAME, DEFAULT_TIMEOUT
from syllabus.core.ray.transport import DEFAULT_MAX_IN_FLIGHT, DEFAULT_PREFETCH, ray_connector

if TYPE_CHECKING:
    from ray.actor import ActorHandle


class RaySyncWrapper(SyncWrapper):
    """Connects an environment to a curriculum served by [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum].

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
