"""Stable-Baselines3 integration: feed Prioritized Level Replay from on-policy rollouts.

Importing this module imports Stable-Baselines3 and torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor


class PLRCallback(BaseCallback):
    """Sends each rollout of an on-policy algorithm (PPO, A2C) to ``curriculum.custom_update``.

    Every environment must put its current task in its reset ``info["task"]``, as the Syllabus
    sync wrappers do. The callback reads each env's latest reset info from the vectorized env
    (``VecEnv.reset_infos``, below any VecEnv wrappers such as ``VecMonitor`` or ``VecNormalize``),
    records the encoded task of every step, and at the end of the rollout sends tasks, rewards,
    dones, values and ``V(last_obs)`` from the rollout buffer. Rewards are the buffer's, so they
    include SB3's time-limit bootstrap and any ``VecNormalize`` reward scaling.

    Args:
        curriculum: A [`PrioritizedLevelReplay`][syllabus.curricula.plr.plr.PrioritizedLevelReplay], or any object that
            forwards ``custom_update`` and ``task_space`` to one (e.g. the multiprocessing wrapper).
        verbose: SB3 verbosity level.
    """

    def __init__(self, curriculum: Any, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.curriculum = curriculum
        self._task_space = curriculum.task_space
        self._tasks = np.zeros((0, 0), dtype=np.int64)
        self._current = np.zeros(0, dtype=np.int64)
        self._last_dones = np.zeros(0, dtype=bool)
        self._step = 0

    def _init_callback(self) -> None:
        if not isinstance(self.model, OnPolicyAlgorithm):
            raise TypeError(
                f"PLRCallback needs an on-policy algorithm (PPO, A2C), got {type(self.model).__name__}"
            )

    @property
    def _algorithm(self) -> OnPolicyAlgorithm:
        """The model, checked to be on-policy in `_init_callback`."""
        assert isinstance(self.model, OnPolicyAlgorithm)
        return self.model

    def _on_rollout_start(self) -> None:
        buffer = self._algorithm.rollout_buffer
        self._tasks = np.zeros((buffer.buffer_size, buffer.n_envs), dtype=np.int64)
        self._current = np.array([self._reset_task(i) for i in range(buffer.n_envs)], dtype=np.int64)
        self._step = 0

    def _on_step(self) -> bool:
        self._tasks[self._step] = self._current
        self._step += 1
        self._last_dones = np.asarray(self.locals["dones"], dtype=bool)
        for i in np.flatnonzero(self._last_dones).tolist():
            self._current[i] = self._reset_task(i)
        return True

    def _on_rollout_end(self) -> None:
        model = self._algorithm
        buffer = model.rollout_buffer
        dones = np.empty(buffer.episode_starts.shape, dtype=bool)
        dones[:-1] = buffer.episode_starts[1:]
        dones[-1] = self._last_dones
        assert model._last_obs is not None, "a rollout ended before the env was reset"
        with torch.no_grad():
            last_obs = obs_as_tensor(model._last_obs, model.device)
            next_values = model.policy.predict_values(last_obs).cpu().numpy().ravel()
        self.curriculum.custom_update(self._tasks.copy(), buffer.rewards, dones, buffer.values, next_values)

    def _reset_task(self, env_index: int) -> int:
        """Encoded task of env ``env_index``, from its latest reset info."""
        info = self.training_env.unwrapped.reset_infos[env_index]
        if "task" not in info:
            raise KeyError(
                f"env {env_index} reported no 'task' in its reset info; wrap each env in a Syllabus sync "
                "wrapper (or put the task in info['task'] at reset) to use PLRCallback"
            )
        return self._task_space.encode(info["task"])
