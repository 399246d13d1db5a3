"""The learners' registry entries ([`LearnerEntry`][syllabus.cli.registry.LearnerEntry]): each learner's
config schema and checks, light to import (the learner itself is imported when a run opens it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syllabus.cli.config_checks import (
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    Range,
    check_at_least,
    check_choice,
    check_range,
)
from syllabus.cli.errors import ConfigError, MissingDependencyError
from syllabus.cli.registry import REGISTRY, LearnerEntry, installed


@dataclass
class SB3PPOConfig:
    """Stable-Baselines3 PPO hyperparameters."""

    name: str = "sb3_ppo"
    policy: str = "auto"
    learning_rate: float = 3e-4
    n_steps: int = 2048
    n_minibatches: int = 32
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantage: bool = True
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    num_threads: int = 1


@dataclass
class RLlibPPOConfig:
    """RLlib PPO (new API stack) on RLlib env runners; needs ``sync=ray``."""

    name: str = "rllib_ppo"
    num_env_runners: int = 1
    num_envs_per_env_runner: int | None = None
    num_cpus_per_env_runner: float = 1.0
    train_batch_size: int = 2048
    minibatch_size: int = 256
    num_epochs: int = 10
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_param: float = 0.2
    entropy_coeff: float = 0.0
    vf_loss_coeff: float = 0.5
    vf_clip_param: float = 10.0
    grad_clip: float | None = 0.5
    model: dict[str, Any] = field(default_factory=dict)
    evaluation_interval: int = 0
    evaluation_duration: int = 10
    evaluation_num_env_runners: int = 0
    num_threads: int = 1
    prefetch: int = 8
    batch_size: int | None = None


def _check_ranges(cfg: Any, ranges: dict[str, Range]) -> None:
    for attr, bounds in ranges.items():
        check_range(f"learner.{attr}", getattr(cfg, attr), bounds)


def _check_threads(cfg: Any) -> None:
    if cfg.num_threads < 0:
        raise ConfigError(f"learner.num_threads must be >= 0 (0: torch's default), got {cfg.num_threads}")


def check_sb3(cfg: SB3PPOConfig) -> None:
    """Sizes >= 1, rates and coefficients in range, a known policy and device."""
    for key in ("n_steps", "n_minibatches", "n_epochs"):
        check_at_least(f"learner.{key}", getattr(cfg, key), 1)
    _check_ranges(
        cfg,
        {
            "learning_rate": POSITIVE,
            "gamma": PROBABILITY,
            "gae_lambda": PROBABILITY,
            "clip_range": POSITIVE,
            "ent_coef": NON_NEGATIVE,
            "vf_coef": NON_NEGATIVE,
            "max_grad_norm": POSITIVE,
        },
    )
    _check_threads(cfg)
    check_choice("learner.device", cfg.device, ("cpu", "cuda", "auto"))
    check_choice(
        "learner.policy", cfg.policy, ("auto", "MlpPolicy", "CnnPolicy", "MultiInputPolicy", "impala")
    )


def check_sb3_run(run: Any) -> None:
    """The rollout splits into whole minibatches; an env that masks actions needs sb3-contrib (MaskablePPO)."""
    cfg = run.learner
    rollout = cfg.n_steps * run.num_envs
    if rollout % cfg.n_minibatches:
        raise ConfigError(
            f"learner.n_minibatches={cfg.n_minibatches} must divide learner.n_steps * num_envs "
            f"= {cfg.n_steps} * {run.num_envs} = {rollout}"
        )
    if REGISTRY.env(run.env).masked and not installed("sb3_contrib"):
        raise MissingDependencyError(
            f"env={run.env.name} masks actions and trains with sb3-contrib's MaskablePPO; install it with: "
            'pip install "syllabus-curriculum[pettingzoo]"'
        )


def check_rllib(cfg: RLlibPPOConfig) -> None:
    """Counts >= 0, sizes >= 1, minibatches no larger than the batch, rates and coefficients in range."""
    check_at_least("learner.prefetch", cfg.prefetch, 0)
    if cfg.num_env_runners < 0 or cfg.evaluation_num_env_runners < 0 or cfg.evaluation_interval < 0:
        raise ConfigError(
            "learner.num_env_runners, learner.evaluation_num_env_runners and learner.evaluation_interval "
            f"must be >= 0, got {cfg.num_env_runners}, {cfg.evaluation_num_env_runners}, {cfg.evaluation_interval}"
        )
    if cfg.minibatch_size > cfg.train_batch_size:
        raise ConfigError(
            f"learner.minibatch_size={cfg.minibatch_size} must be <= learner.train_batch_size={cfg.train_batch_size}"
        )
    for key in ("num_envs_per_env_runner", "train_batch_size", "minibatch_size", "num_epochs"):
        value = getattr(cfg, key)
        if value is not None:
            check_at_least(f"learner.{key}", value, 1)
    check_at_least("learner.evaluation_duration", cfg.evaluation_duration, 1)
    if cfg.batch_size is not None:
        check_at_least("learner.batch_size", cfg.batch_size, 1)
    _check_ranges(
        cfg,
        {
            "lr": POSITIVE,
            "gamma": PROBABILITY,
            "gae_lambda": PROBABILITY,
            "clip_param": POSITIVE,
            "entropy_coeff": NON_NEGATIVE,
            "vf_loss_coeff": NON_NEGATIVE,
            "vf_clip_param": POSITIVE,
            "grad_clip": POSITIVE,
            "num_cpus_per_env_runner": NON_NEGATIVE,
        },
    )
    _check_threads(cfg)


def check_rllib_run(run: Any) -> None:
    """RLlib's env runners are Ray actors (``sync=ray``) that split ``num_envs`` evenly."""
    cfg = run.learner
    if run.sync.name != "ray":
        raise ConfigError(
            f"learner=rllib_ppo needs sync=ray (RLlib's env runners are Ray actors), got sync={run.sync.name}; "
            "add sync=ray, or use learner=sb3_ppo"
        )
    if cfg.num_envs_per_env_runner is None and run.num_envs % max(cfg.num_env_runners, 1):
        raise ConfigError(
            f"num_envs={run.num_envs} must be a multiple of learner.num_env_runners={cfg.num_env_runners} "
            "(or set learner.num_envs_per_env_runner)"
        )


def sb3_rollout(run: Any) -> tuple[int, str]:
    """SB3 collects ``n_steps`` in each of the ``num_envs`` envs."""
    return (
        run.learner.n_steps * run.num_envs,
        f"learner.n_steps * num_envs = {run.learner.n_steps} * {run.num_envs}",
    )


def rllib_rollout(run: Any) -> tuple[int, str]:
    """RLlib collects ``train_batch_size`` steps."""
    return run.learner.train_batch_size, "learner.train_batch_size"


ENTRIES = (
    LearnerEntry(
        "sb3_ppo",
        SB3PPOConfig,
        check_sb3,
        check_sb3_run,
        learner="syllabus.cli.learners.sb3:SB3Learner",
        rollout=sb3_rollout,
    ),
    LearnerEntry(
        "rllib_ppo",
        RLlibPPOConfig,
        check_rllib,
        check_rllib_run,
        extra="rllib",
        module="ray.rllib",
        learner="syllabus.cli.learners.rllib:RLlibLearner",
        rollout=rllib_rollout,
    ),
)
