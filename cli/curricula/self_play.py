"""``curriculum=sp``, ``fsp`` and ``pfsp``: self-play curricula, whose task is the opponent.

They build from the run alone: their tasks are ids of their own opponent pool
([`syllabus.cli.selfplay`][syllabus.cli.selfplay]), not the env's task space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syllabus.cli.config_checks import check_at_least, one_of
from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import REGISTRY, CurriculumEntry, EnvEntry


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


def check(cfg: SelfPlayConfig) -> None:
    """Snapshot interval, pool size and window >= 1; PFSP's weighting known and exponent > 0."""
    check_at_least("curriculum.snapshot_interval", cfg.snapshot_interval, 1)
    check_at_least("curriculum.max_agents", cfg.max_agents, 1)
    if cfg.window is not None:
        check_at_least("curriculum.window", cfg.window, 1, " (or null: all games)")
    if isinstance(cfg, PFSPConfig):
        one_of("curriculum.weighting", cfg.weighting, ("hard", "variance", "linear", "squared"), "weighting")
        if not 0 < cfg.exponent < float("inf"):
            raise ConfigError(f"curriculum.exponent must be a finite number > 0, got {cfg.exponent}")


def check_run(run: Any) -> None:
    """Self-play needs an env whose task is the opponent."""
    if not REGISTRY.env(run.env).opponents:
        envs = " or ".join(
            f"env={name}"
            for name, entry in REGISTRY.entries("env").items()
            if isinstance(entry, EnvEntry) and entry.opponents
        )
        raise ConfigError(
            f"curriculum={run.curriculum.name} chooses opponents; it needs an env whose task is the opponent: "
            f"{envs} (got env={run.env.name})"
        )


def build(run: Any, task_space: Any) -> Any:
    """The self-play curriculum, its pool holding ``env.initial_opponents``."""
    from syllabus.cli.selfplay import make_self_play_curriculum

    return make_self_play_curriculum(run)


ENTRIES = (
    CurriculumEntry("sp", SelfPlayConfig, check, check_run, build=build),
    CurriculumEntry("fsp", FictitiousSelfPlayConfig, check, check_run, build=build),
    CurriculumEntry("pfsp", PFSPConfig, check, check_run, build=build),
)
