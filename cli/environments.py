"""The sync backend of a run: its vector env of synced task envs and the learner-side curriculum.

[`open_environments`][syllabus.cli.environments.open_environments] builds the vector env with the
``open`` of the run's sync entry ([`syllabus.cli.syncs`][syllabus.cli.syncs]: SB3 ``SubprocVecEnv``,
``DummyVecEnv`` or [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv]) and wraps it for the learner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.builders import is_multiagent, make_task_env
from syllabus.cli.registry import REGISTRY
from syllabus.cli.schema import RunConfig
from syllabus.cli.selfplay import with_opponent_pool

from syllabus.core import Curriculum

logger = logging.getLogger("syllabus.train")


@dataclass
class Environments:
    """The vector env of a run and the learner-side curriculum (the object to update, save and log).

    Close it (or use ``with``) to close the envs, then the curriculum's sync machinery.
    """

    venv: Any
    curriculum: Any
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Registers ``closer`` to run on [`close`][syllabus.cli.environments.Environments.close] (last registered, first run)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Closes everything that was opened, in reverse order; idempotent."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Environments:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def prepare_sync(run: RunConfig) -> None:
    """The first build step of ``run.sync``, before the learner opens: ``sync=multiprocessing`` starts its
    forkserver (its imports overlap with the learner's), ``sync=ray`` checks that the cluster at
    ``sync.address`` can be joined (within ``sync.join_timeout``)."""
    prepare = REGISTRY.sync(run.sync).prepare
    if prepare is not None:
        prepare(run)


def open_environments(run: RunConfig, curriculum: Curriculum | None) -> Environments:
    """Builds the vector env for ``run.sync`` with every env synced to ``curriculum``.

    ``sync=multiprocessing``: SB3 ``SubprocVecEnv`` with [`MultiProcessingSyncWrapper`][syllabus.core.multiprocessing_sync.MultiProcessingSyncWrapper] envs;
    ``sync=ray``: [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv] of [`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper] envs, the curriculum a Ray actor;
    ``sync=none``: SB3 ``DummyVecEnv`` with [`DirectSyncWrapper`][syllabus.core.direct_sync.DirectSyncWrapper]
    envs (deterministic). Call [`prepare_sync`][syllabus.cli.environments.prepare_sync] first. The vector env
    is wrapped in ``VecMonitor`` for episode statistics, over a check that names an env returning a
    non-finite reward.

    A failing env (its worker died, it raised, or it was silent for longer than ``sync.timeout``)
    raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming its index and the cause
    (see [`syllabus.integrations.sb3_vec_env`][syllabus.integrations.sb3_vec_env]).
    """
    from stable_baselines3.common.vec_env import VecMonitor

    from syllabus.integrations.sb3_vec_env import FiniteRewardCheck

    run = with_opponent_pool(run, curriculum)  # self-play: envs load opponents from the curriculum's pool
    envs = Environments(venv=None, curriculum=curriculum)
    try:
        venv = REGISTRY.sync(run.sync).open(run, curriculum, envs)
        envs.on_close(venv.close)
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
