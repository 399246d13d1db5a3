"""``learner=sb3_ppo``: Stable-Baselines3 PPO on the SB3 vector env of the run's sync backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from syllabus.cli.builders import has_action_masks, takes_learner_updates
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.environments import Environments, open_environments
from syllabus.cli.learners.base import Learner
from syllabus.cli.learners.entries import SB3PPOConfig
from syllabus.cli.run_dir import TrainerState, verify_sb3_model
from syllabus.cli.schema import RunConfig
from syllabus.cli.selfplay import is_self_play

MODEL_FILE = "model.zip"
"""The SB3 model (policy, optimizer and hyperparameters) inside a checkpoint directory."""


class SB3Learner(Learner):
    """SB3 PPO and the run's vector env ([`open_environments`][syllabus.cli.environments.open_environments]).

    Args:
        run: The run's config.
        envs: The open vector env and learner-side curriculum.
        model: SB3 ``PPO`` on ``envs.venv``.
        resumed: Whether ``model`` continues a checkpoint (its step count goes on).
    """

    def __init__(self, run: RunConfig, envs: Environments, model: Any, *, resumed: bool) -> None:
        self.run = run
        self.envs = envs
        self.model = model
        self.curriculum = envs.curriculum
        self._resumed = resumed

    @classmethod
    def open(
        cls, run: RunConfig, curriculum: Any, checkpoint: Path | None, state: TrainerState
    ) -> SB3Learner:
        """Opens the vector env of ``run.sync`` and builds PPO on it, or loads it from ``checkpoint``."""
        from stable_baselines3.common.utils import set_random_seed

        set_random_seed(run.seed)
        envs = open_environments(run, curriculum)
        try:
            if checkpoint is None:
                model = make_ppo(run, envs.venv)
            else:
                set_torch_threads(run.learner)
                model = ppo_class(run).load(checkpoint / MODEL_FILE, env=envs.venv, device=run.learner.device)
                state.restore_rng()
                envs.venv.seed(run.seed + state.num_timesteps)
        except BaseException:
            envs.close()
            raise
        return cls(run, envs, model, resumed=checkpoint is not None)

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, total_timesteps: int, callback: RunCallback) -> None:
        from syllabus.cli.learners.sb3_callbacks import SB3RunCallback

        self.model.set_logger(callback.logs.sb3_logger)
        self.model.learn(
            total_timesteps - self.model.num_timesteps,
            callback=[*learner_callbacks(self.run, self.envs.curriculum), SB3RunCallback(callback)],
            reset_num_timesteps=not self._resumed,
        )

    def save(self, directory: Path) -> None:
        self.model.save(directory / MODEL_FILE)

    @classmethod
    def verify(cls, checkpoint: Path) -> None:
        verify_sb3_model(checkpoint / MODEL_FILE)

    @classmethod
    def load_policy(cls, run: RunConfig, checkpoint: Path) -> SB3Policy:
        set_torch_threads(run.learner)
        return SB3Policy(ppo_class(run).load(checkpoint / MODEL_FILE, device=run.learner.device))

    def close(self) -> None:
        self.envs.close()


class SB3Policy:
    """An SB3 model acting in a single task env."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, obs: Any, *, deterministic: bool) -> Any:
        action, _ = self.model.predict(obs, deterministic=deterministic)
        return _env_action(action)


def _env_action(action: np.ndarray) -> Any:
    """SB3 returns a 0-d array for discrete actions; gymnasium envs take a plain int."""
    return action.item() if action.shape == () else action


def make_ppo(run: RunConfig, venv: Any) -> Any:
    """Builds the SB3 PPO learner of ``run`` on ``venv`` ([`ppo_class`][syllabus.cli.learners.sb3.ppo_class]), seeded with ``run.seed``."""
    from syllabus.integrations.sb3_impala import sb3_policy

    cfg = run.learner
    set_torch_threads(cfg)
    policy, policy_kwargs = sb3_policy(policy_for(cfg, venv.observation_space), cfg.policy_kwargs)
    kwargs = {**ppo_kwargs(run), "policy_kwargs": policy_kwargs}
    return ppo_class(run)(policy, venv, **kwargs, seed=run.seed, verbose=0)


def ppo_class(run: RunConfig) -> Any:
    """SB3 ``PPO``, [`RobustPPO`][syllabus.integrations.sb3_robust_ppo.RobustPPO] for Robust PLR (no
    gradient steps on new levels), or sb3-contrib's ``MaskablePPO`` for an env with action masks."""
    if has_action_masks(run.env):
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    if getattr(run.curriculum, "robust", False):
        from syllabus.integrations.sb3_robust_ppo import RobustPPO

        return RobustPPO
    from stable_baselines3 import PPO

    return PPO


def set_torch_threads(cfg: SB3PPOConfig) -> None:
    """Applies ``learner.num_threads`` (0: torch's default)."""
    import torch

    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)


def ppo_kwargs(run: RunConfig) -> dict[str, Any]:
    """Keyword arguments of SB3 ``PPO`` from the learner config (minibatch size from ``n_minibatches``)."""
    cfg = run.learner
    return {
        "learning_rate": cfg.learning_rate,
        "n_steps": cfg.n_steps,
        "batch_size": cfg.n_steps * run.num_envs // cfg.n_minibatches,
        "n_epochs": cfg.n_epochs,
        "gamma": cfg.gamma,
        "gae_lambda": cfg.gae_lambda,
        "clip_range": cfg.clip_range,
        "ent_coef": cfg.ent_coef,
        "vf_coef": cfg.vf_coef,
        "max_grad_norm": cfg.max_grad_norm,
        "normalize_advantage": cfg.normalize_advantage,
        "policy_kwargs": dict(cfg.policy_kwargs) or None,
        "device": cfg.device,
    }


def policy_for(cfg: SB3PPOConfig, observation_space: gym.Space) -> str:
    """The policy name: ``CnnPolicy`` for image observations when ``policy: auto``, else ``MlpPolicy``;
    an explicit name (an SB3 policy or ``impala``, see ``syllabus.integrations.sb3_impala.sb3_policy``) as is."""
    if cfg.policy != "auto":
        return cfg.policy
    from stable_baselines3.common.preprocessing import is_image_space

    return "CnnPolicy" if is_image_space(observation_space, check_channels=False) else "MlpPolicy"


def learner_callbacks(run: RunConfig, curriculum: Any) -> list[Any]:
    """SB3 callbacks the curriculum needs: the PLR callback feeds PLR value predictions; self-play
    curricula get snapshots of the policy."""
    if curriculum is not None and is_self_play(run):
        from syllabus.cli.learners.sb3_callbacks import SnapshotCallback

        return [SnapshotCallback(curriculum, run.curriculum.snapshot_interval)]
    if curriculum is None or not takes_learner_updates(run):
        return []
    from syllabus.integrations.sb3 import PLRCallback

    return [PLRCallback(curriculum)]
