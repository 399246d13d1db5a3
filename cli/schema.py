"""Schemas of the runner's configuration, and validation of a composed config against them.

Every group option names itself (``env.name: procgen``); :func:`validate` picks that option's
dataclass, so a user's own option (``--config-dir``) or a run's saved ``config.yaml`` is checked
the same way. A wrong type, an unknown key or an unknown name fails with :class:`ConfigError`
naming the key before anything starts.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from syllabus.cli.env_names import MINIGRID_ENV_IDS, PROCGEN_DISTRIBUTION_MODES, PROCGEN_GAMES

# ---------------------------------------------------------------------------- env


@dataclass
class CartPoleEnvConfig:
    """CartPole-v1; a task is the half-width of the initial-state range."""

    name: str = "cartpole"
    tasks: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.1, 0.15, 0.2])
    eval_tasks: list[float] | None = None
    success_threshold: float | None = 195.0


@dataclass
class ProcgenEnvConfig:
    """Procgen; a task is a level seed in ``[start_level, start_level + num_levels)``."""

    name: str = "procgen"
    game: str = "bigfish"
    num_levels: int = 200
    start_level: int = 0
    distribution_mode: str = "easy"
    eval_num_levels: int = 100
    success_threshold: float | None = None


@dataclass
class MiniGridEnvConfig:
    """MiniGrid; tasks are env ids, or seeds of one env id."""

    name: str = "minigrid"
    env_ids: list[str] | None = None
    env_id: str | None = None
    seeds: list[int] | None = None
    eval_tasks: list[Any] | None = None
    success_threshold: float | None = None


# --------------------------------------------------------------------- curriculum


@dataclass
class NoCurriculumConfig:
    """No curriculum, no sync wrapper."""

    name: str = "none"


@dataclass
class ConstantConfig:
    """One task, chosen by its index in the task space."""

    name: str = "constant"
    task_index: int = 0


@dataclass
class DomainRandomizationConfig:
    """Uniformly random tasks."""

    name: str = "dr"


@dataclass
class SequentialConfig:
    """Stages over growing prefixes of the task space."""

    name: str = "sequential"
    stage_fractions: list[float] = field(default_factory=lambda: [0.4, 0.7, 1.0])
    stopping_conditions: list[str] = field(default_factory=lambda: ["steps>=15000", "steps>=15000"])
    return_window: int = 100


@dataclass
class PLRConfig:
    """Prioritized Level Replay (``robust: true`` for Robust PLR)."""

    name: str = "plr"
    strategy: str = "value_l1"
    score_transform: str = "rank"
    temperature: float = 0.1
    staleness_coef: float = 0.1
    staleness_transform: str = "power"
    staleness_temperature: float = 1.0
    alpha: float = 1.0
    replay_schedule: str = "proportionate"
    rho: float = 1.0
    replay_prob: float = 0.5
    eps: float = 0.05
    robust: bool = False
    mode: str = "corrected"
    gamma: float = 0.99
    gae_lambda: float = 0.95


@dataclass
class LearningProgressConfig:
    """Learning Progress over success rates."""

    name: str = "lp"
    ema_alpha: float = 0.1
    p_theta: float = 0.1
    eps: float = 0.05
    success_threshold: float | None = None


@dataclass
class LearnabilityConfig:
    """Learnability ``p (1 - p)`` over success rates."""

    name: str = "learnability"
    top_k: int | None = None
    eps: float = 0.05
    ema_alpha: float | None = None
    success_threshold: float | None = None


# --------------------------------------------------------------- sync, learner, logger


@dataclass
class MultiprocessingSyncConfig:
    """Envs in SB3 ``SubprocVecEnv`` workers, the curriculum served by a sync thread."""

    name: str = "multiprocessing"
    start_method: str = "forkserver"
    timeout: float = 60.0


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


@dataclass
class NoSyncConfig:
    """One process: ``DummyVecEnv`` and the curriculum called directly."""

    name: str = "none"


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


@dataclass
class LoggerConfig:
    """What a run writes and shows while it trains."""

    name: str = "default"
    log_interval: int = 4096
    log_seconds: float = 30.0
    checkpoint_interval: int = 0
    tensorboard: bool = True
    progress: str = "auto"
    max_tasks: int = 10


@dataclass
class RunConfig:
    """A validated run configuration: one typed object per group plus the shared keys."""

    env: Any
    curriculum: Any
    sync: Any
    learner: Any
    logger: LoggerConfig
    seed: int = 0
    total_timesteps: int = 80_000
    num_envs: int = 4


GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "env": {"cartpole": CartPoleEnvConfig, "procgen": ProcgenEnvConfig, "minigrid": MiniGridEnvConfig},
    "curriculum": {
        "none": NoCurriculumConfig,
        "constant": ConstantConfig,
        "dr": DomainRandomizationConfig,
        "sequential": SequentialConfig,
        "plr": PLRConfig,
        "robust_plr": PLRConfig,
        "plr_reference": PLRConfig,
        "lp": LearningProgressConfig,
        "learnability": LearnabilityConfig,
    },
    "sync": {"multiprocessing": MultiprocessingSyncConfig, "ray": RaySyncConfig, "none": NoSyncConfig},
    "learner": {"sb3_ppo": SB3PPOConfig, "rllib_ppo": RLlibPPOConfig},
    "logger": {"default": LoggerConfig, "csv": LoggerConfig},
}
"""For each group, the schema of every valid ``name``."""

_TOP_LEVEL = {"seed": int, "total_timesteps": int, "num_envs": int}
_CHOICES = {
    "logger.progress": ("auto", "bar", "log"),
    "sync.start_method": ("fork", "forkserver", "spawn"),
    "learner.device": ("cpu", "cuda", "auto"),
    "learner.policy": ("auto", "MlpPolicy", "CnnPolicy", "MultiInputPolicy", "impala"),
    "sync.curriculum_node": ("driver", "any"),
}
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are unsigned 32-bit
# The optional package each env or sync backend needs, and the extra that installs it.
_OPTIONAL = {("env", "procgen"): "procgen", ("env", "minigrid"): "minigrid", ("sync", "ray"): "ray"}
# `auto`, `HOST:PORT` (a cluster's GCS) or `ray://HOST[:PORT]` (Ray Client).
_RAY_ADDRESS = re.compile(r"auto|ray://[^\s:/]+(:\d+)?|[^\s:/]+:\d+")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what is valid."""


def validate(cfg: DictConfig | dict[str, Any]) -> RunConfig:
    """Resolves and checks a composed config, returning typed group objects.

    Raises:
        ConfigError: A key is unknown, missing, of the wrong type, or has an invalid value.
    """
    try:
        container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve the config: {_first_line(exc)}") from None
    if not isinstance(container, dict):
        raise ConfigError(f"the config must be a mapping of keys to values, got {type(container).__name__}")
    data: dict[str, Any] = {str(key): value for key, value in container.items()}
    unknown = sorted(set(data) - set(GROUP_SCHEMAS) - set(_TOP_LEVEL))
    if unknown:
        raise ConfigError(
            f"unknown top-level key {unknown[0]!r}; valid keys: {', '.join([*GROUP_SCHEMAS, *_TOP_LEVEL])}"
        )
    groups = {
        group: _validate_group(group, data.get(group), schemas) for group, schemas in GROUP_SCHEMAS.items()
    }
    top: dict[str, Any] = {}
    for key, kind in _TOP_LEVEL.items():
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        top[key] = value
    run = RunConfig(**groups, **top)
    _check_values(run)
    return run


def _validate_group(group: str, node: Any, schemas: dict[str, type]) -> Any:
    if not isinstance(node, dict):
        raise ConfigError(f"missing config group {group!r}; choose one of: {', '.join(schemas)}")
    name = node.get("name")
    if name not in schemas:
        raise ConfigError(f"{group}.name: unknown {group} {name!r}; valid choices: {', '.join(schemas)}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schemas[name]), node)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = f"{group}.{exc.full_key}" if getattr(exc, "full_key", None) else group
        raise ConfigError(f"{key}: {_first_line(exc)}") from None


def _check_values(run: RunConfig) -> None:
    positive = {
        "total_timesteps": run.total_timesteps,
        "num_envs": run.num_envs,
        "logger.log_interval": run.logger.log_interval,
        "logger.log_seconds": run.logger.log_seconds,
        "logger.max_tasks": run.logger.max_tasks,
    }
    if isinstance(run.learner, SB3PPOConfig):
        positive.update(
            {
                "learner.n_steps": run.learner.n_steps,
                "learner.n_minibatches": run.learner.n_minibatches,
                "learner.n_epochs": run.learner.n_epochs,
            }
        )
        rollout = run.learner.n_steps * run.num_envs
        if rollout % run.learner.n_minibatches:
            raise ConfigError(
                f"learner.n_minibatches={run.learner.n_minibatches} must divide learner.n_steps * num_envs "
                f"= {run.learner.n_steps} * {run.num_envs} = {rollout}"
            )
    if isinstance(run.learner, RLlibPPOConfig):
        if not isinstance(run.sync, RaySyncConfig):
            raise ConfigError(
                f"learner=rllib_ppo needs sync=ray (RLlib's env runners are Ray actors), got sync={run.sync.name}; "
                "add sync=ray, or use learner=sb3_ppo"
            )
        positive.update(_rllib_sizes(run))
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key} must be >= 1, got {value}")
    if not 0 <= run.seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {run.seed}")
    _check_env(run.env)
    if run.learner.num_threads < 0:
        raise ConfigError(
            f"learner.num_threads must be >= 0 (0: torch's default), got {run.learner.num_threads}"
        )
    if run.logger.checkpoint_interval < 0:
        raise ConfigError(
            f"logger.checkpoint_interval must be >= 0 (0: final only), got {run.logger.checkpoint_interval}"
        )
    if isinstance(run.sync, RaySyncConfig):
        _check_ray_sync(run.sync)
    if isinstance(run.sync, MultiprocessingSyncConfig) and not run.sync.timeout > 0:
        raise ConfigError(f"sync.timeout must be > 0 seconds, got {run.sync.timeout}")
    for key, choices in _CHOICES.items():
        group, attr = key.split(".")
        chosen = getattr(getattr(run, group), attr, None)
        if chosen is not None and chosen not in choices:
            raise ConfigError(f"{key}: invalid value {chosen!r}; valid choices: {', '.join(choices)}")


def _one_of(key: str, value: Any, choices: tuple[str, ...], what: str) -> None:
    if value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    valid = (
        ", ".join(choices)
        if len(choices) <= 20
        else f"one of the {len(choices)} {what}s, e.g. {', '.join(choices[:3])}"
    )
    raise ConfigError(f"{key}: unknown {what} {value!r}{hint}; valid: {valid}")


def _check_env(env: Any) -> None:
    """Checks env values against static lists, so that a typo is reported before any env package is imported."""
    if isinstance(env, CartPoleEnvConfig):
        if not env.tasks:
            raise ConfigError("env.tasks must list at least one initial-state half-width, got []")
        for key, tasks in (("env.tasks", env.tasks), ("env.eval_tasks", env.eval_tasks or [])):
            bad = [t for t in tasks if not t > 0]
            if bad:
                raise ConfigError(
                    f"{key}: a CartPole task is the half-width of the initial-state range and must be > 0, "
                    f"got {bad[0]!r} in {list(tasks)!r}"
                )
    elif isinstance(env, ProcgenEnvConfig):
        _one_of("env.game", env.game, PROCGEN_GAMES, "Procgen game")
        _one_of(
            "env.distribution_mode", env.distribution_mode, PROCGEN_DISTRIBUTION_MODES, "distribution mode"
        )
        for key in ("num_levels", "eval_num_levels"):
            if getattr(env, key) < 1:
                raise ConfigError(f"env.{key} must be >= 1, got {getattr(env, key)}")
        if env.start_level < 0:
            raise ConfigError(f"env.start_level must be >= 0, got {env.start_level}")
    elif isinstance(env, MiniGridEnvConfig):
        for env_id in [*(env.env_ids or []), *([env.env_id] if env.env_id else [])]:
            _one_of(
                "env.env_ids" if env.env_ids else "env.env_id", env_id, MINIGRID_ENV_IDS, "MiniGrid env id"
            )
        bad_seeds = [s for s in env.seeds or [] if s < 0]
        if bad_seeds:
            raise ConfigError(f"env.seeds must be >= 0, got {bad_seeds[0]} in {env.seeds!r}")


def check_installed(run: RunConfig) -> None:
    """Checks, without importing it, that the optional package the env or sync backend needs is installed.

    Raises:
        ConfigError: Naming the extra to install.
    """
    for (group, name), extra in _OPTIONAL.items():
        if getattr(run, group).name == name and importlib.util.find_spec(extra) is None:
            raise ConfigError(
                f"{group}={name} needs an optional dependency that is not installed ({extra}); install it with: "
                f'pip install "syllabus-curriculum[{extra}]"'
            )


def _rllib_sizes(run: RunConfig) -> dict[str, int]:
    """The RLlib PPO sizes that must be >= 1 (env runners may be 0: the driver samples)."""
    cfg = run.learner
    if cfg.num_env_runners < 0 or cfg.evaluation_num_env_runners < 0 or cfg.evaluation_interval < 0:
        raise ConfigError(
            "learner.num_env_runners, learner.evaluation_num_env_runners and learner.evaluation_interval "
            f"must be >= 0, got {cfg.num_env_runners}, {cfg.evaluation_num_env_runners}, {cfg.evaluation_interval}"
        )
    if cfg.num_envs_per_env_runner is None and run.num_envs % max(cfg.num_env_runners, 1):
        raise ConfigError(
            f"num_envs={run.num_envs} must be a multiple of learner.num_env_runners={cfg.num_env_runners} "
            "(or set learner.num_envs_per_env_runner)"
        )
    if cfg.minibatch_size > cfg.train_batch_size:
        raise ConfigError(
            f"learner.minibatch_size={cfg.minibatch_size} must be <= learner.train_batch_size={cfg.train_batch_size}"
        )
    return {
        "learner.num_envs_per_env_runner": cfg.num_envs_per_env_runner or 1,
        "learner.train_batch_size": cfg.train_batch_size,
        "learner.minibatch_size": cfg.minibatch_size,
        "learner.num_epochs": cfg.num_epochs,
        "learner.evaluation_duration": cfg.evaluation_duration,
    }


def _check_ray_sync(sync: RaySyncConfig) -> None:
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
        if sync.num_cpus < 1:
            raise ConfigError(f"sync.num_cpus must be >= 1 (or null: all cores), got {sync.num_cpus}")
    if sync.env_num_cpus < 0:
        raise ConfigError(f"sync.env_num_cpus must be >= 0, got {sync.env_num_cpus}")
    if sync.timeout <= 0:
        raise ConfigError(f"sync.timeout must be > 0 seconds, got {sync.timeout}")
    if sync.join_timeout <= 0:
        raise ConfigError(f"sync.join_timeout must be > 0 seconds, got {sync.join_timeout}")
    if sync.curriculum_name == "":
        raise ConfigError("sync.curriculum_name must not be empty (null: a name unique to the run)")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
