"""The sync backend of a run: its vector env of synced task envs and the learner-side curriculum.

[`open_environments`][syllabus.cli.environments.open_environments] is the one place where ``sync`` decides the vector env (SB3 ``SubprocVecEnv``,
``DummyVecEnv`` or [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv]) and the wrapper that connects each env to the curriculum.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from syllabus.cli.builders import MissingDependencyError, is_multiagent, make_task_env
from syllabus.cli.env_factories import direct_env, ray_env, worker_env
from syllabus.cli.ray_cluster import check_cluster, connect_ray, curriculum_actor_name, start_curriculum_actor
from syllabus.cli.schema import ConfigError, RaySyncConfig, RunConfig
from syllabus.cli.selfplay import with_opponent_pool

from syllabus.core import Curriculum, make_multiprocessing_curriculum
from syllabus.integrations.env_guard import guard_env_fns
from syllabus.integrations.sb3_vec_env import FiniteRewardCheck, GuardedSubprocVecEnv, worker_signals_blocked

# Seconds the learner waits for an env beyond sync.timeout, so that the env's own error (e.g. its
# wait for a task timed out) arrives before the learner gives up on it.
WORKER_GRACE = 5.0

logger = logging.getLogger("syllabus.train")


def check_sync_config(sync: Any) -> None:
    """Checks that the sync backend's optional package is installed (Ray for ``sync=ray``) and that a
    Ray cluster can be joined at ``sync.address`` ([`check_cluster`][syllabus.cli.ray_cluster.check_cluster])."""
    if not isinstance(sync, RaySyncConfig):
        return
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f'sync=ray needs an optional dependency: {exc}; install it with: pip install "syllabus-curriculum[ray]"'
        ) from None
    check_cluster(sync)


@dataclass
class Environments:
    """The vector env of a run and the learner-side curriculum (the object to update, save and log).

    Close it (or use ``with``) to close the envs, then the curriculum's sync machinery.
    """

    venv: Any
    curriculum: Any
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Closes everything that was opened, in reverse order; idempotent."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Environments:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def start_worker_server(run: RunConfig) -> None:
    """Starts the forkserver of ``sync=multiprocessing`` now, with SB3's worker and this module imported.

    Workers then fork ready-made instead of each importing torch (seconds per worker), and the
    server's imports overlap with the learner's own.
    """
    if run.sync.name != "multiprocessing":
        return
    if multiprocessing.get_start_method(allow_none=True) not in (None, "fork", "forkserver", "spawn"):
        # A launcher's worker (joblib's loky) sets its own default context, which env workers, started
        # from here, cannot resolve; they use the standard one the config names.
        multiprocessing.set_start_method(run.sync.start_method, force=True)
    if run.sync.start_method == "forkserver":
        from multiprocessing import forkserver

        multiprocessing.set_forkserver_preload(
            [
                "syllabus.cli",
                "stable_baselines3.common.vec_env.subproc_vec_env",
                "syllabus.integrations.sb3_vec_env",
                __name__,
            ]
        )
        with worker_signals_blocked():  # the server, like its workers, leaves SIGTERM to the learner
            forkserver.ensure_running()


def open_environments(run: RunConfig, curriculum: Curriculum | None) -> Environments:
    """Builds the vector env for ``run.sync`` with every env synced to ``curriculum``.

    ``sync=multiprocessing``: SB3 ``SubprocVecEnv`` with [`MultiProcessingSyncWrapper`][syllabus.core.multiprocessing_sync.MultiProcessingSyncWrapper] envs;
    ``sync=ray``: [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv] of [`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper] envs, the curriculum a Ray actor
    ([`connect_ray`][syllabus.cli.ray_cluster.connect_ray] first); ``sync=none``: SB3 ``DummyVecEnv`` with [`DirectSyncWrapper`][syllabus.core.direct_sync.DirectSyncWrapper]
    envs (deterministic). The vector env is wrapped in ``VecMonitor`` for episode statistics, over a
    check that names an env returning a non-finite reward.

    A failing env (its worker died, it raised, or it was silent for longer than ``sync.timeout``)
    raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming its index and the cause
    (see [`syllabus.integrations.sb3_vec_env`][syllabus.integrations.sb3_vec_env]).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

    run = with_opponent_pool(run, curriculum)  # self-play: envs load opponents from the curriculum's pool
    envs = Environments(venv=None, curriculum=curriculum)
    venv: VecEnv
    try:
        if run.sync.name == "multiprocessing":
            start_worker_server(run)
            task_queue = update_queue = None
            if curriculum is not None:
                wrapper, task_queue, update_queue = make_multiprocessing_curriculum(
                    curriculum, timeout=run.sync.timeout
                )
                envs.curriculum = wrapper
                envs._closers.append(wrapper.close)
            venv = GuardedSubprocVecEnv(
                [partial(worker_env, run.env, task_queue, update_queue, i) for i in range(run.num_envs)],
                start_method=run.sync.start_method,
                timeout=run.sync.timeout + WORKER_GRACE,
            )
        elif run.sync.name == "ray":
            disconnect = connect_ray(run.sync)
            if disconnect is not None:
                envs._closers.append(disconnect)
            from syllabus.integrations.ray_vec_env import RayVecEnv

            name = curriculum_actor_name(run.sync)
            actor = None
            if curriculum is not None:
                wrapper = start_curriculum_actor(run.sync, curriculum, name)
                envs.curriculum, actor = wrapper, wrapper.actor
                envs._closers.append(wrapper.close)
            factory = partial(ray_env, run.env, actor, name, run.sync.namespace, run.sync.timeout)
            venv = RayVecEnv(
                guard_env_fns([partial(factory, index=i) for i in range(run.num_envs)]),
                num_cpus=run.sync.env_num_cpus,
                timeout=run.sync.timeout + WORKER_GRACE,
            )
        elif run.sync.name == "none":
            venv = DummyVecEnv(
                guard_env_fns([partial(direct_env, run.env, curriculum, i) for i in range(run.num_envs)])
            )
        else:
            raise ConfigError(f"sync.name: no builder for sync backend {run.sync.name!r}")
        envs._closers.append(venv.close)
        if is_multiagent(run.env):  # one vector entry per agent, for one shared policy
            from syllabus.integrations.sb3_pettingzoo import StackedAgentsEnv, agents_vec_env

            probe = make_task_env(run.env)  # for the agents' spaces
            probe.close()
            assert isinstance(probe, StackedAgentsEnv)  # the task env of a multi-agent env
            venv = agents_vec_env(venv, probe)
        envs.venv = VecMonitor(FiniteRewardCheck(venv))
    except BaseException:
        envs.close()
        raise
    return envs
