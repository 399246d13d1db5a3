"""The SB3 callbacks of ``learner=sb3_ppo``: the run's callback in SB3's shape, and self-play snapshots."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.selfplay import policy_snapshot


class SB3RunCallback(BaseCallback):
    """Drives the learner-neutral [`RunCallback`][syllabus.cli.callbacks.RunCallback] from SB3's hooks.

    Episodes come from the ``episode`` info of SB3's ``VecMonitor``; each is logged with the task its env
    was reset to (the ``task`` of the reset infos). Interval checkpoints are written at rollout starts,
    where the model has trained on every step counted.

    Args:
        run_callback: The run's callback.
    """

    def __init__(self, run_callback: RunCallback) -> None:
        super().__init__()
        self.run_callback = run_callback
        self._tasks: list[Any] = []

    def _on_training_start(self) -> None:
        self.run_callback.begin(self.num_timesteps)
        self._tasks = [info.get("task") for info in self.training_env.unwrapped.reset_infos]

    def _on_rollout_start(self) -> None:
        self.run_callback.checkpoint_if_due()

    def _on_step(self) -> bool:
        dones = self.locals["dones"]
        if dones.any():
            infos = self.locals["infos"]
            reset_infos = self.training_env.unwrapped.reset_infos
            for i in np.flatnonzero(dones).tolist():
                episode = infos[i].get("episode")
                if episode is not None:
                    self.run_callback.record_episode(
                        self.num_timesteps, i, self._tasks[i], episode["r"], episode["l"]
                    )
                self._tasks[i] = reset_infos[i].get("task")
        return self.run_callback.advance(self.num_timesteps)


class SnapshotCallback(BaseCallback):
    """Self-play: adds a snapshot of the learner's policy to the curriculum's pool every ``interval`` env steps
    ([`syllabus.cli.selfplay`][syllabus.cli.selfplay]).

    A snapshot is taken at the first rollout start at or after each multiple of ``interval``: between
    rollouts the policy has trained on every step counted, and the run's checkpoint (due at the same
    rollout start, later in the callback list) already holds it.

    Args:
        curriculum: The learner-side curriculum (a self-play curriculum, or the sync wrapper serving it).
        interval: Env steps between snapshots.
    """

    def __init__(self, curriculum: Any, interval: int) -> None:
        super().__init__()
        self.curriculum = curriculum
        self.interval = interval
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = (self.model.num_timesteps // self.interval + 1) * self.interval

    def _on_rollout_start(self) -> None:
        steps = self.model.num_timesteps
        if steps >= self._next:
            self.curriculum.add_agent(policy_snapshot(self.model.policy))
            self._next = (steps // self.interval + 1) * self.interval

    def _on_step(self) -> bool:
        return True
