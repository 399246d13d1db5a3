"""Schemas of the runner's configuration, and validation of a composed config against them.

Every group option names itself (``env.name: procgen``); [`validate`][syllabus.cli.schema.validate] picks that option's
dataclass, so a user's own option (``--config-dir``) or a run's saved ``config.yaml`` is checked
the same way. A wrong type, an unknown key or an unknown name fails with [`ConfigError`][syllabus.cli.schema.ConfigError]
naming the key before anything starts.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import re
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from syllabus.cli.env_names import (
    CONNECT_FOUR_OPPONENTS,
    CONNECT_FOUR_SEATS,
    MINIGRID_ENV_IDS,
    PROCGEN_DISTRIBUTION_MODES,
    PROCGEN_GAMES,
)

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


@dataclass
class MpeEnvConfig:
    """MPE2 ``simple_spread`` (cooperative); a task is the half-width of the square agents and landmarks start in."""

    name: str = "mpe"
    tasks: list[float] = field(default_factory=lambda: [0.5, 1.0, 1.5, 2.0])
    eval_tasks: list[float] | None = None
    n_agents: int = 3
    max_cycles: int = 25
    local_ratio: float = 0.5


@dataclass
class ConnectFourEnvConfig:
    """PettingZoo's Connect Four; a task is the opponent (an id of the self-play curricula's pool)."""

    name: str = "connect_four"
    seat: str = "alternate"
    initial_opponents: list[str] = field(default_factory=lambda: ["random"])
    eval_opponents: list[str] = field(default_factory=lambda: ["random", "heuristic"])


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


@dataclass
class SelfPlayConfig:
    """Self-play: the opponent is the latest snapshot of the learner's policy."""

    name: str = "sp"
    snapshot_interval: int = 8192
    max_agents: int = 1
    window: int | None = None


@dataclass
class FictitiousSelfPlayConfig(SelfPlayConfig):
    """Fictitious self-play: opponents uniformly from the last ``max_agents`` snapshots."""

    name: str = "fsp"
    max_agents: int = 10


@dataclass
class PFSPConfig(FictitiousSelfPlayConfig):
    """Prioritized fictitious self-play: opponents weighted by the learner's win rate against them."""

    name: str = "pfsp"
    window: int | None = 50
    weighting: str = "hard"
    exponent: float = 2.0


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
    prefetch: int = 8
    batch_size: int | None = None


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
    "env": {
        "cartpole": CartPoleEnvConfig,
        "procgen": ProcgenEnvConfig,
        "minigrid": MiniGridEnvConfig,
        "mpe": MpeEnvConfig,
        "connect_four": ConnectFourEnvConfig,
    },
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
        "sp": SelfPlayConfig,
        "fsp": FictitiousSelfPlayConfig,
        "pfsp": PFSPConfig,
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
# The optional package (module) each env or sync backend needs; the extra that installs it has its name
# unless _EXTRA_OF says otherwise.
_OPTIONAL = {
    ("env", "procgen"): "procgen",
    ("env", "minigrid"): "minigrid",
    ("env", "mpe"): "mpe2",
    ("env", "connect_four"): "pettingzoo",
    ("sync", "ray"): "ray",
}
_EXTRA_OF = {"mpe2": "mpe"}  # the extra that installs a module, where their names differ
# `auto`, `HOST:PORT` (a cluster's GCS) or `ray://HOST[:PORT]` (Ray Client).
_RAY_ADDRESS = re.compile(r"auto|ray://[^\s:/]+(:\d+)?|[^\s:/]+:\d+")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what is valid."""


def validate(cfg: DictConfig | ListConfig | dict[str, Any]) -> RunConfig:
    """Resolves and checks a composed config, returning typed group objects.

    Raises:
        ConfigError: A key is unknown, missing, of the wrong type, or has an invalid value.
    """
    try:
        container = (
            OmegaConf.to_container(cfg, resolve=True)
            if isinstance(cfg, (DictConfig, ListConfig))
            else dict(cfg)
        )
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
    _check_learner_fits(run)
    for key, value in _positive_values(run).items():
        if value < 1:
            raise ConfigError(f"{key} must be >= 1, got {value}")
    if not 0 <= run.seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {run.seed}")
    _check_env(run.env)
    _check_ranges(run)
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
    _check_self_play(run)
    if isinstance(run.sync, MultiprocessingSyncConfig) and not run.sync.timeout > 0:
        raise ConfigError(f"sync.timeout must be > 0 seconds, got {run.sync.timeout}")
    _check_choices(run)


def _check_learner_fits(run: RunConfig) -> None:
    """The learner against the rest: SB3's rollout splits into its minibatches, MPE trains with SB3, RLlib
    with ``sync=ray``."""
    if isinstance(run.learner, SB3PPOConfig):
        rollout = run.learner.n_steps * run.num_envs
        # n_minibatches < 1 is reported by the >= 1 checks (the modulo would divide by zero).
        if run.learner.n_minibatches >= 1 and rollout % run.learner.n_minibatches:
            raise ConfigError(
                f"learner.n_minibatches={run.learner.n_minibatches} must divide learner.n_steps * num_envs "
                f"= {run.learner.n_steps} * {run.num_envs} = {rollout}"
            )
    if isinstance(run.env, MpeEnvConfig) and not isinstance(run.learner, SB3PPOConfig):
        raise ConfigError(
            f"env=mpe trains with learner=sb3_ppo (one policy shared by the agents), got learner={run.learner.name}; "
            "for RLlib multi-agent training see examples/rllib_multiagent.py"
        )
    if isinstance(run.learner, RLlibPPOConfig) and not isinstance(run.sync, RaySyncConfig):
        raise ConfigError(
            f"learner=rllib_ppo needs sync=ray (RLlib's env runners are Ray actors), got sync={run.sync.name}; "
            "add sync=ray, or use learner=sb3_ppo"
        )


def _positive_values(run: RunConfig) -> dict[str, float]:
    """The values that must be >= 1, by key."""
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
    if isinstance(run.learner, RLlibPPOConfig):
        positive.update(_rllib_sizes(run))
    return positive


def _check_choices(run: RunConfig) -> None:
    """The keys with a fixed set of valid values (``_CHOICES``)."""
    for key, choices in _CHOICES.items():
        group, attr = key.split(".")
        chosen = getattr(getattr(run, group), attr, None)
        if chosen is not None and chosen not in choices:
            raise ConfigError(f"{key}: invalid value {chosen!r}; valid choices: {', '.join(choices)}")


# The valid range of each learner value: (low, high, low inclusive, high inclusive); None: unbounded.
_Range = tuple[float | None, float | None, bool, bool]
_PROBABILITY: _Range = (0.0, 1.0, True, True)
_POSITIVE: _Range = (0.0, None, False, False)
_NON_NEGATIVE: _Range = (0.0, None, True, False)
_LEARNER_RANGES: dict[type, dict[str, _Range]] = {
    SB3PPOConfig: {
        "learning_rate": _POSITIVE,
        "gamma": _PROBABILITY,
        "gae_lambda": _PROBABILITY,
        "clip_range": _POSITIVE,
        "ent_coef": _NON_NEGATIVE,
        "vf_coef": _NON_NEGATIVE,
        "max_grad_norm": _POSITIVE,
    },
    RLlibPPOConfig: {
        "lr": _POSITIVE,
        "gamma": _PROBABILITY,
        "gae_lambda": _PROBABILITY,
        "clip_param": _POSITIVE,
        "entropy_coeff": _NON_NEGATIVE,
        "vf_loss_coeff": _NON_NEGATIVE,
        "vf_clip_param": _POSITIVE,
        "grad_clip": _POSITIVE,
        "num_cpus_per_env_runner": _NON_NEGATIVE,
    },
}


def _describe_range(bounds: _Range) -> str:
    low, high, low_in, high_in = bounds
    if high is None:
        return f"{'>=' if low_in else '>'} {low:g}"
    return f"in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def check_range(key: str, value: float | None, bounds: _Range) -> None:
    """Checks that ``value`` is a finite number within ``bounds`` (``None`` passes: the key is optional).

    Raises:
        ConfigError: Naming ``key``, the value and the valid range.
    """
    if value is None:
        return
    low, high, low_in, high_in = bounds
    ok = (
        math.isfinite(value)
        and (low is None or (value >= low if low_in else value > low))
        and (high is None or (value <= high if high_in else value < high))
    )
    if not ok:
        raise ConfigError(f"{key} must be a finite number {_describe_range(bounds)}, got {value!r}")


def _check_ranges(run: RunConfig) -> None:
    """Range checks of the learner's numbers and the env's success threshold."""
    for attr, bounds in _LEARNER_RANGES.get(type(run.learner), {}).items():
        check_range(f"learner.{attr}", getattr(run.learner, attr), bounds)
    threshold = getattr(run.env, "success_threshold", None)
    if threshold is not None and not math.isfinite(threshold):
        raise ConfigError(f"env.success_threshold must be a finite number or null, got {threshold!r}")


def budget_warning(run: RunConfig) -> str | None:
    """What the run will really train when that is over 10% more than ``total_timesteps``, else ``None``.

    The learners collect whole rollouts (SB3: ``learner.n_steps * num_envs`` steps; RLlib:
    ``learner.train_batch_size``), so a run trains up to the next whole rollout.
    """
    if isinstance(run.learner, SB3PPOConfig):
        rollout, what = (
            run.learner.n_steps * run.num_envs,
            f"learner.n_steps * num_envs = {run.learner.n_steps} * {run.num_envs}",
        )
    elif isinstance(run.learner, RLlibPPOConfig):
        rollout, what = run.learner.train_batch_size, "learner.train_batch_size"
    else:
        return None
    steps = -(-run.total_timesteps // rollout) * rollout
    if steps <= 1.1 * run.total_timesteps:
        return None
    return (
        f"total_timesteps={run.total_timesteps} is not a whole number of rollouts ({what} = {rollout} steps): the run "
        f"trains whole rollouts, {steps} steps ({100 * steps / run.total_timesteps:.0f}% of total_timesteps)"
    )


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
        _check_cartpole(env)
    elif isinstance(env, ProcgenEnvConfig):
        _check_procgen(env)
    elif isinstance(env, MiniGridEnvConfig):
        _check_minigrid(env)
    elif isinstance(env, MpeEnvConfig):
        _check_mpe(env)


def _check_cartpole(env: CartPoleEnvConfig) -> None:
    if not env.tasks:
        raise ConfigError("env.tasks must list at least one initial-state half-width, got []")
    for key, tasks in (("env.tasks", env.tasks), ("env.eval_tasks", env.eval_tasks or [])):
        bad = [t for t in tasks if not t > 0]
        if bad:
            raise ConfigError(
                f"{key}: a CartPole task is the half-width of the initial-state range and must be > 0, "
                f"got {bad[0]!r} in {list(tasks)!r}"
            )


def _check_procgen(env: ProcgenEnvConfig) -> None:
    _one_of("env.game", env.game, PROCGEN_GAMES, "Procgen game")
    _one_of("env.distribution_mode", env.distribution_mode, PROCGEN_DISTRIBUTION_MODES, "distribution mode")
    for key in ("num_levels", "eval_num_levels"):
        if getattr(env, key) < 1:
            raise ConfigError(f"env.{key} must be >= 1, got {getattr(env, key)}")
    if env.start_level < 0:
        raise ConfigError(f"env.start_level must be >= 0, got {env.start_level}")


def _check_minigrid(env: MiniGridEnvConfig) -> None:
    for env_id in [*(env.env_ids or []), *([env.env_id] if env.env_id else [])]:
        _one_of("env.env_ids" if env.env_ids else "env.env_id", env_id, MINIGRID_ENV_IDS, "MiniGrid env id")
    bad_seeds = [s for s in env.seeds or [] if s < 0]
    if bad_seeds:
        raise ConfigError(f"env.seeds must be >= 0, got {bad_seeds[0]} in {env.seeds!r}")


def _check_mpe(env: MpeEnvConfig) -> None:
    if not env.tasks:
        raise ConfigError("env.tasks must list at least one world half-width, got []")
    for key, tasks in (("env.tasks", env.tasks), ("env.eval_tasks", env.eval_tasks or [])):
        bad = [t for t in tasks if not t > 0]
        if bad:
            raise ConfigError(
                f"{key}: an MPE task is the half-width of the start square and must be > 0, got {bad[0]!r} in {list(tasks)!r}"
            )
    for key in ("n_agents", "max_cycles"):
        if getattr(env, key) < 1:
            raise ConfigError(f"env.{key} must be >= 1, got {getattr(env, key)}")
    if not 0.0 <= env.local_ratio <= 1.0:
        raise ConfigError(f"env.local_ratio must be in [0, 1], got {env.local_ratio}")


def _check_self_play(run: RunConfig) -> None:
    """Self-play curricula need an env whose task is the opponent; Connect Four needs a masking SB3 learner."""
    env, cfg = run.env, run.curriculum
    if isinstance(cfg, SelfPlayConfig) and not isinstance(env, ConnectFourEnvConfig):
        raise ConfigError(
            f"curriculum={cfg.name} chooses opponents; it needs an env whose task is the opponent: env=connect_four "
            f"(got env={env.name})"
        )
    if isinstance(cfg, SelfPlayConfig):
        _check_self_play_curriculum(cfg)
    if isinstance(env, ConnectFourEnvConfig):
        _check_connect_four(run, env)


def _check_self_play_curriculum(cfg: SelfPlayConfig) -> None:
    for key in ("snapshot_interval", "max_agents"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"curriculum.{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.window is not None and cfg.window < 1:
        raise ConfigError(f"curriculum.window must be >= 1 (or null: all games), got {cfg.window}")
    if isinstance(cfg, PFSPConfig):
        _one_of("curriculum.weighting", cfg.weighting, ("hard", "variance", "linear", "squared"), "weighting")
        if not 0 < cfg.exponent < float("inf"):
            raise ConfigError(f"curriculum.exponent must be a finite number > 0, got {cfg.exponent}")


def _check_connect_four(run: RunConfig, env: ConnectFourEnvConfig) -> None:
    """Connect Four: a curriculum and learner that mask actions, known seats and fixed opponents."""
    cfg = run.curriculum
    if getattr(cfg, "robust", False):
        raise ConfigError(
            f"curriculum={cfg.name} (Robust PLR's PPO) cannot mask actions; env=connect_four needs it"
        )
    if not isinstance(run.learner, SB3PPOConfig):
        raise ConfigError(
            f"env=connect_four masks full columns and trains with learner=sb3_ppo (MaskablePPO), got "
            f"learner={run.learner.name}"
        )
    _one_of("env.seat", env.seat, CONNECT_FOUR_SEATS, "seat")
    for key in ("initial_opponents", "eval_opponents"):
        for opponent in getattr(env, key):
            _one_of(f"env.{key}", opponent, CONNECT_FOUR_OPPONENTS, "fixed opponent")
    if not env.eval_opponents:
        raise ConfigError("env.eval_opponents must name at least one fixed opponent, got []")
    if isinstance(cfg, SelfPlayConfig) and not env.initial_opponents:
        raise ConfigError(
            f"curriculum={cfg.name} needs an opponent before the learner's first snapshot: env.initial_opponents "
            f"must name at least one of {', '.join(CONNECT_FOUR_OPPONENTS)}, got []"
        )


def check_installed(run: RunConfig) -> None:
    """Checks, without importing it, that the optional package the env or sync backend needs is installed.

    Raises:
        ConfigError: Naming the extra to install.
    """
    for (group, name), module in _OPTIONAL.items():
        if getattr(run, group).name == name and importlib.util.find_spec(module) is None:
            extra = _EXTRA_OF.get(module, module)
            raise ConfigError(
                f"{group}={name} needs an optional dependency that is not installed ({module}); install it with: "
                f'pip install "syllabus-curriculum[{extra}]"'
            )


def _rllib_sizes(run: RunConfig) -> dict[str, int]:
    """The RLlib PPO sizes that must be >= 1 (env runners may be 0: the driver samples)."""
    cfg = run.learner
    if cfg.prefetch < 0:
        raise ConfigError(f"learner.prefetch must be >= 0, got {cfg.prefetch}")
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
        "learner.batch_size": 1 if cfg.batch_size is None else cfg.batch_size,
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
