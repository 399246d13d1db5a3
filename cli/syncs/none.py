"""``sync=none``: one process, SB3 ``DummyVecEnv`` and the curriculum called directly (deterministic)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from syllabus.cli.registry import SyncEntry


@dataclass
class NoSyncConfig:
    """One process: ``DummyVecEnv`` and the curriculum called directly."""

    name: str = "none"


def open_envs(run: Any, curriculum: Any, environments: Any) -> Any:
    """A ``DummyVecEnv`` of [`DirectSyncWrapper`][syllabus.core.direct_sync.DirectSyncWrapper] envs."""
    from stable_baselines3.common.vec_env import DummyVecEnv
    from syllabus.cli.env_factories import direct_env

    from syllabus.integrations.env_guard import guard_env_fns

    return DummyVecEnv(
        guard_env_fns([partial(direct_env, run.env, curriculum, i) for i in range(run.num_envs)])
    )


ENTRIES = (SyncEntry("none", NoSyncConfig, open=open_envs),)
