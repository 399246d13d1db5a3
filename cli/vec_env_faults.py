"""The runner's guarded vector envs; they live in the library now.

Kept so that ``syllabus.cli.vec_env_faults`` imports keep working: see
[`syllabus.integrations.sb3_vec_env`][syllabus.integrations.sb3_vec_env].
"""

from __future__ import annotations

from syllabus.core.errors import EnvWorkerError
from syllabus.integrations.sb3_vec_env import (
    BUILD_TIMEOUT,
    CLOSE_TIMEOUT,
    GuardedSubprocVecEnv,
    describe_exit,
    guard_env_fns,
    worker_signals_blocked,
)

__all__ = [
    "BUILD_TIMEOUT",
    "CLOSE_TIMEOUT",
    "EnvWorkerError",
    "GuardedSubprocVecEnv",
    "describe_exit",
    "guard_env_fns",
    "worker_signals_blocked",
]
