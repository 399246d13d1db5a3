"""``sync=ray``: envs in Ray actors ([`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv]), the curriculum a named Ray actor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from syllabus.cli.config_checks import (
    check_at_least,
    check_choice,
    check_seconds,
)
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import SyncEntry
from syllabus.cli.syncs import WORKER_GRACE

# `auto`, `HOST:PORT` (a cluster's GCS) or `ray://HOST[:PORT]` (Ray Client).
_RAY_ADDRESS = re.compile(r"auto|ray://[^\s:/]+(:\d+)?|[^\s:/]+:\d+")


@dataclass
class RaySyncConfig:
    """Envs in Ray actors (``RayVecEnv``), the curriculum as a named Ray actor."""

    name: str = "ray"
    address: str | None = None
    num_cpus: int | None = None
    env_num_cpus: float = 0.01
    curriculum_name: str | None = None
    namespace: str | None = None
    timeout: float = 60.0
    join_timeout: float = 30.0
    curriculum_node: str = "driver"


def check(sync: RaySyncConfig) -> None:
    """A valid address, CPUs only for a local Ray, timeouts > 0, a non-empty actor name."""
    if sync.address is not None and not _RAY_ADDRESS.fullmatch(sync.address):
        raise ConfigError(
            f"sync.address: invalid Ray address {sync.address!r}; valid: null (start a local Ray), auto "
            "(the cluster running on this machine), HOST:PORT (a cluster's GCS) or ray://HOST:PORT (Ray Client)"
        )
    if sync.num_cpus is not None:
        if sync.address is not None:
            raise ConfigError(
                f"sync.num_cpus={sync.num_cpus} sizes a local Ray only; with sync.address={sync.address!r} "
                "the cluster has its own CPUs: leave sync.num_cpus null"
            )
        check_at_least("sync.num_cpus", sync.num_cpus, 1, " (or null: all cores)")
    check_at_least("sync.env_num_cpus", sync.env_num_cpus, 0)
    check_seconds("sync.timeout", sync.timeout)
    check_seconds("sync.join_timeout", sync.join_timeout)
    if sync.curriculum_name == "":
        raise ConfigError("sync.curriculum_name must not be empty (null: a name unique to the run)")
    check_choice("sync.curriculum_node", sync.curriculum_node, ("driver", "any"))


def join_check(run: Any) -> None:
    """Checks that the cluster at ``sync.address`` can be joined ([`check_cluster`][syllabus.cli.ray_cluster.check_cluster]):
    the first build step, as it starts a probe process (validation has checked that Ray is installed).

    Raises:
        ConfigError: No cluster can be joined at ``sync.address``.
    """
    from syllabus.cli.ray_cluster import check_cluster

    check_cluster(run.sync)


def open_envs(run: Any, curriculum: Any, environments: Any) -> Any:
    """A [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv] of [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper]
    envs, the curriculum a Ray actor ([`connect_ray`][syllabus.cli.ray_cluster.connect_ray] first)."""
    from syllabus.cli.env_factories import ray_env
    from syllabus.cli.ray_cluster import connect_ray, curriculum_actor_name, start_curriculum_actor

    from syllabus.integrations.env_guard import guard_env_fns
    from syllabus.integrations.ray_vec_env import RayVecEnv

    disconnect = connect_ray(run.sync)
    if disconnect is not None:
        environments.on_close(disconnect)
    name = curriculum_actor_name(run.sync)
    actor = None
    if curriculum is not None:
        wrapper = start_curriculum_actor(run.sync, curriculum, name)
        environments.curriculum, actor = wrapper, wrapper.actor
        environments.on_close(wrapper.close)
    factory = partial(ray_env, run.env, actor, name, run.sync.namespace, run.sync.timeout)
    return RayVecEnv(
        guard_env_fns([partial(factory, index=i) for i in range(run.num_envs)]),
        num_cpus=run.sync.env_num_cpus,
        timeout=run.sync.timeout + WORKER_GRACE,
    )


ENTRIES = (
    SyncEntry("ray", RaySyncConfig, check, extra="ray", module="ray", prepare=join_check, open=open_envs),
)
