"""The run's configuration schema, and validation of a composed config: one call, no side effects.

Every group option names itself (``env.name: procgen``); [`validate`][syllabus.cli.schema.validate] picks
that option's registry entry ([`syllabus.cli.registry`][syllabus.cli.registry]) and its dataclass, so a
user's own option (``--config-dir``) or a run's saved ``config.yaml`` is checked the same way. A wrong
type, an unknown key, an unknown name, a bad value or a missing optional package fails with
[`ConfigError`][syllabus.cli.config_checks.ConfigError] (or
[`MissingDependencyError`][syllabus.cli.config_checks.MissingDependencyError]) naming the key before
anything starts. Validation imports no env package, starts no process and joins no cluster.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException
from syllabus.cli.config_checks import check_at_least, check_choice
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import GROUPS, REGISTRY


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


_LOGGERS = {"default": LoggerConfig, "csv": LoggerConfig}
_TOP_LEVEL = {"seed": int, "total_timesteps": int, "num_envs": int}
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are unsigned 32-bit


def group_schemas() -> dict[str, dict[str, type]]:
    """For each group, the schema of every valid ``name`` (the registry's, and the loggers')."""
    schemas = {
        group: {name: entry.schema for name, entry in REGISTRY.entries(group).items()} for group in GROUPS
    }
    return {**schemas, "logger": dict(_LOGGERS)}


def validate(cfg: DictConfig | ListConfig | dict[str, Any], *, installed: bool = True) -> RunConfig:
    """Resolves and checks a composed config, returning typed group objects.

    Checks, in order: the keys and their types, the run's own values, each chosen entry's values
    (its ``check``), each entry against the rest of the run (its ``check_run``: e.g. that the learner
    fits the env and sync backend), then (with ``installed``) that each entry's optional package is
    installed. Nothing is imported, started or joined.

    Raises:
        ConfigError: A key is unknown, missing, of the wrong type, or has an invalid value.
        MissingDependencyError: A package the run needs is not installed.
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
    schemas = group_schemas()
    unknown = sorted(set(data) - set(schemas) - set(_TOP_LEVEL))
    if unknown:
        raise unknown_key(unknown[0])
    groups = {group: _validate_group(group, data.get(group), options) for group, options in schemas.items()}
    top: dict[str, Any] = {}
    for key, kind in _TOP_LEVEL.items():
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        top[key] = value
    run = RunConfig(**groups, **top)
    _check_run_values(run)
    entries = [
        REGISTRY.get(group, getattr(run, group).name) for group in ("learner", "env", "curriculum", "sync")
    ]
    for entry in entries:
        entry.check(getattr(run, entry.group))
    for entry in entries:
        if entry.check_run is not None:
            entry.check_run(run)
    if installed:
        check_installed(run)
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
        if isinstance(exc, ConfigKeyError) and exc.full_key == exc.key:  # a key the option does not have
            raise unknown_key(f"{group}.{exc.key}", name) from None
        key = f"{group}.{exc.full_key}" if getattr(exc, "full_key", None) else group
        raise ConfigError(f"{key}: {_first_line(exc)}") from None


def unknown_key(key: str, option: str | None = None) -> ConfigError:
    """The error for a key the config does not have, with the valid keys and the closest ones.

    Args:
        key: A top-level key, or ``GROUP.KEY`` (e.g. ``curriculum.tempreature``).
        option: The group's chosen option (e.g. ``plr``), whose schema has the valid keys.
    """
    group, _, leaf = key.rpartition(".")
    if group:
        valid = [field.name for field in dataclasses.fields(group_schemas()[group][str(option)])]
        valid.remove("name")  # chosen by the group (``curriculum=plr``), not set
        what, listing = f"{key}: unknown key {leaf!r}", f"valid keys of {group}={option}"
    else:
        valid = [*group_schemas(), *_TOP_LEVEL]
        what, listing = f"unknown top-level key {key!r}", "valid keys"
    close = difflib.get_close_matches(leaf, valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(f"{what}{hint}; {listing}: {', '.join(valid)}")


def _check_run_values(run: RunConfig) -> None:
    """The shared keys and the logger's."""
    for key, value in {
        "total_timesteps": run.total_timesteps,
        "num_envs": run.num_envs,
        "logger.log_interval": run.logger.log_interval,
        "logger.log_seconds": run.logger.log_seconds,
        "logger.max_tasks": run.logger.max_tasks,
    }.items():
        check_at_least(key, value, 1)
    if not 0 <= run.seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {run.seed}")
    threshold = getattr(run.env, "success_threshold", None)
    if threshold is not None and not math.isfinite(threshold):
        raise ConfigError(f"env.success_threshold must be a finite number or null, got {threshold!r}")
    if run.logger.checkpoint_interval < 0:
        raise ConfigError(
            f"logger.checkpoint_interval must be >= 0 (0: final only), got {run.logger.checkpoint_interval}"
        )
    check_choice("logger.progress", run.logger.progress, ("auto", "bar", "log"))


def check_installed(run: RunConfig) -> None:
    """Checks, without importing them, that the optional packages the chosen entries need are installed.

    Raises:
        ConfigError: Naming the extra to install.
    """
    for group in GROUPS:
        REGISTRY.get(group, getattr(run, group).name).check_installed()


def budget_warning(run: RunConfig) -> str | None:
    """What the run will really train when that is over 10% more than ``total_timesteps``, else ``None``.

    The learners collect whole rollouts (SB3: ``learner.n_steps * num_envs`` steps; RLlib:
    ``learner.train_batch_size``), so a run trains up to the next whole rollout.
    """
    rollout_of = REGISTRY.learner(run.learner.name).rollout
    if rollout_of is None:
        return None
    rollout, what = rollout_of(run)
    steps = -(-run.total_timesteps // rollout) * rollout
    if steps <= 1.1 * run.total_timesteps:
        return None
    return (
        f"total_timesteps={run.total_timesteps} is not a whole number of rollouts ({what} = {rollout} steps): the run "
        f"trains whole rollouts, {steps} steps ({100 * steps / run.total_timesteps:.0f}% of total_timesteps)"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
