"""``sync=multiprocessing``: envs in SB3 ``SubprocVecEnv`` workers, the curriculum served by a sync thread."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from functools import partial
from typing import Any

from syllabus.cli.config_checks import check_choice, check_seconds
from syllabus.cli.registry import SyncEntry
from syllabus.cli.syncs import WORKER_GRACE

START_METHODS = ("fork", "forkserver", "spawn")


@dataclass
class MultiprocessingSyncConfig:
    """Envs in SB3 ``SubprocVecEnv`` workers, the curriculum served by a sync thread."""

    name: str = "multiprocessing"
    start_method: str = "forkserver"
    timeout: float = 60.0


def check(sync: MultiprocessingSyncConfig) -> None:
    """A timeout > 0 and a known start method."""
    check_seconds("sync.timeout", sync.timeout)
    check_choice("sync.start_method", sync.start_method, START_METHODS)


def start_worker_server(run: Any) -> None:
    """Starts the forkserver now, with the env worker and the env factories imported.

    Workers then fork ready-made instead of each importing the env's modules, and the server's imports
    overlap with the learner's own. Neither the server nor the workers import torch: the worker
    ([`vec_env_worker`][syllabus.integrations.vec_env_worker]) needs no SB3.
    """
    from syllabus.integrations.sb3_vec_env import worker_signals_blocked

    if multiprocessing.get_start_method(allow_none=True) not in (None, *START_METHODS):
        # A launcher's worker (joblib's loky) sets its own default context, which env workers, started
        # from here, cannot resolve; they use the standard one the config names.
        multiprocessing.set_start_method(run.sync.start_method, force=True)
    if run.sync.start_method == "forkserver":
        from multiprocessing import forkserver

        multiprocessing.set_forkserver_preload(
            [
                "syllabus.cli",
                "syllabus.integrations.vec_env_worker",
                "syllabus.cli.env_factories",
            ]
        )
        with worker_signals_blocked():  # the server, like its workers, leaves SIGTERM to the learner
            forkserver.ensure_running()


def open_envs(run: Any, curriculum: Any, environments: Any) -> Any:
    """A guarded ``SubprocVecEnv`` of [`MultiProcessingSyncWrapper`][syllabus.core.multiprocessing_sync.MultiProcessingSyncWrapper] envs."""
    from syllabus.cli.env_factories import worker_env

    from syllabus.core import make_multiprocessing_curriculum
    from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv

    task_queue = update_queue = None
    if curriculum is not None:
        wrapper, task_queue, update_queue = make_multiprocessing_curriculum(
            curriculum, timeout=run.sync.timeout
        )
        environments.curriculum = wrapper
        environments.on_close(wrapper.close)
    return GuardedSubprocVecEnv(
        [partial(worker_env, run.env, task_queue, update_queue, i) for i in range(run.num_envs)],
        start_method=run.sync.start_method,
        timeout=run.sync.timeout + WORKER_GRACE,
    )


ENTRIES = (
    SyncEntry(
        "multiprocessing", MultiprocessingSyncConfig, check, prepare=start_worker_server, open=open_envs
    ),
)
