"""The registry of the runner's choices: every env, curriculum, sync backend and learner is one entry.

An entry holds its name (the config option, ``configs/<group>/<name>.yaml``), its config schema (a
dataclass), its checks (pure: no import of the env's package, no process, no network), the extra it
needs with the module that proves it installed, and how to build it. Everything that needs a list of
choices (validation, building, ``syllabus configs``, shell completion, evaluation) reads it from here.

Entries are the ``ENTRIES`` of every module of [`syllabus.cli.envs`][syllabus.cli.envs],
[`syllabus.cli.curricula`][syllabus.cli.curricula] and [`syllabus.cli.syncs`][syllabus.cli.syncs], of
[`syllabus.cli.learners.entries`][syllabus.cli.learners.entries], then of the modules named by the
``SYLLABUS_PLUGINS`` environment variable (comma-separated module names, e.g. ``my_envs.toy``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from syllabus.cli.errors import ConfigError

PLUGINS_ENV = "SYLLABUS_PLUGINS"
"""Environment variable: comma-separated modules whose ``ENTRIES`` join the registry."""

GROUPS = ("env", "curriculum", "sync", "learner")
"""The config groups whose options are registry entries."""

_PACKAGES = ("syllabus.cli.envs", "syllabus.cli.curricula", "syllabus.cli.syncs")
_MODULES = ("syllabus.cli.learners.entries",)


def _no_check(cfg: Any) -> None:
    """An entry whose values need no check beyond the schema's types."""


@dataclass(frozen=True)
class Entry:
    """One option of a config group.

    Attributes:
        name: The option's name: ``<group>.name`` in the config and ``configs/<group>/<name>.yaml``.
        schema: The dataclass its config is validated against.
        check: Checks the entry's own config values (pure).
        check_run: Checks the entry against the rest of the run (``RunConfig``; pure), or ``None``.
        extra: The ``syllabus-curriculum`` extra that installs what it needs, or ``None``.
        module: The module whose presence proves ``extra`` installed (found without importing it).
    """

    name: str
    schema: type
    check: Callable[[Any], None] = _no_check
    check_run: Callable[[Any], None] | None = None
    extra: str | None = None
    module: str | None = None

    group = ""

    def check_installed(self) -> None:
        """Checks, without importing it, that [`module`][syllabus.cli.registry.Entry] is installed.

        Raises:
            ConfigError: Naming the extra to install.
        """
        if self.module is not None and not installed(self.module):
            raise ConfigError(
                f"{self.group}={self.name} needs an optional dependency that is not installed ({self.module}); "
                f'install it with: pip install "syllabus-curriculum[{self.extra}]"'
            )


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (but its parent package)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


@dataclass(frozen=True, kw_only=True)
class EnvEntry(Entry):
    """An env: its task space and task env, built from its config.

    Attributes:
        task_space: ``(cfg, evaluation) -> TaskSpace``: the training tasks (held-out with ``evaluation``).
        make: ``(cfg, evaluation) -> gym.Env``: a task env over those tasks.
        make_parallel: ``(cfg, evaluation) -> ParallelEnv`` for a PettingZoo env (trained with one policy
            shared by its agents; ``make`` then stacks them), ``None`` for a single-agent env.
        masked: The env masks actions (``action_masks()``): ``learner=sb3_ppo`` trains MaskablePPO.
        opponents: A two-player game whose task is the opponent: self-play curricula train on it and
            ``syllabus eval`` reports win rates against its fixed opponents.
        held_out: ``(cfg) -> bool``: whether ``syllabus eval`` plays tasks held out from training
            (by default: when the config gives ``eval_tasks``).
    """

    task_space: Callable[[Any, bool], Any]
    make: Callable[[Any, bool], Any]
    make_parallel: Callable[[Any, bool], Any] | None = None
    masked: bool = False
    opponents: bool = False
    held_out: Callable[[Any], bool] = lambda cfg: bool(getattr(cfg, "eval_tasks", None))

    group = "env"


@dataclass(frozen=True, kw_only=True)
class CurriculumEntry(Entry):
    """A curriculum.

    Attributes:
        build: ``(run, task_space) -> Curriculum | None``, seeded with ``run.seed`` (by default ``None``:
            no curriculum).
        learner_updates: It learns from the learner's rollouts (value predictions), like PLR.
    """

    build: Callable[[Any, Any], Any] = lambda run, task_space: None
    learner_updates: bool = False

    group = "curriculum"


@dataclass(frozen=True, kw_only=True)
class SyncEntry(Entry):
    """A sync backend: how envs run and reach the curriculum.

    Attributes:
        prepare: ``(run) -> None``: the first build step, before the learner opens (start a forkserver,
            check that a Ray cluster can be joined), or ``None``.
        open: ``(run, curriculum, environments) -> VecEnv``: the vector env of synced envs; it registers
            what must be closed on ``environments``.
    """

    prepare: Callable[[Any], None] | None = None
    open: Callable[[Any, Any, Any], Any]

    group = "sync"


@dataclass(frozen=True, kw_only=True)
class LearnerEntry(Entry):
    """A learner.

    Attributes:
        learner: ``module:class`` of its [`Learner`][syllabus.cli.learners.base.Learner] (imported when used).
        rollout: ``(run) -> (steps, what)``: the steps of one rollout (a run trains whole rollouts) and
            the keys they come from, or ``None``.
    """

    learner: str
    rollout: Callable[[Any], tuple[int, str]] | None = None

    group = "learner"


class Registry:
    """The entries of every group, loaded on first use from the built-in packages and ``SYLLABUS_PLUGINS``."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, Entry]] | None = None

    def _load(self) -> dict[str, dict[str, Entry]]:
        if self._groups is None:
            groups: dict[str, dict[str, Entry]] = {group: {} for group in GROUPS}
            for module in [*_builtin_modules(), *_plugin_modules()]:
                for entry in getattr(_import(module), "ENTRIES", ()):
                    if entry.name in groups[entry.group]:
                        raise ConfigError(f"{module}: {entry.group}={entry.name} is registered twice")
                    groups[entry.group][entry.name] = entry
            self._groups = {group: dict(sorted(entries.items())) for group, entries in groups.items()}
        return self._groups

    def reload(self) -> None:
        """Forgets the loaded entries: the next lookup loads them again (e.g. after ``SYLLABUS_PLUGINS`` changed)."""
        self._groups = None

    def entries(self, group: str) -> dict[str, Entry]:
        """The entries of ``group`` by name, sorted."""
        return self._load()[group]

    def get(self, group: str, name: Any) -> Any:
        """The entry ``name`` of ``group``.

        Raises:
            ConfigError: ``<group>.name: unknown <group> 'NAME'; valid choices: ...``.
        """
        entries = self.entries(group)
        if name not in entries:
            raise ConfigError(f"{group}.name: unknown {group} {name!r}; valid choices: {', '.join(entries)}")
        return entries[name]

    def env(self, cfg: Any) -> EnvEntry:
        """The entry of an env config."""
        entry = self.get("env", cfg.name)
        assert isinstance(entry, EnvEntry)
        return entry

    def curriculum(self, cfg: Any) -> CurriculumEntry:
        """The entry of a curriculum config."""
        entry = self.get("curriculum", cfg.name)
        assert isinstance(entry, CurriculumEntry)
        return entry

    def sync(self, cfg: Any) -> SyncEntry:
        """The entry of a sync config."""
        entry = self.get("sync", cfg.name)
        assert isinstance(entry, SyncEntry)
        return entry

    def learner(self, name: str) -> LearnerEntry:
        """The entry of a learner name."""
        entry = self.get("learner", name)
        assert isinstance(entry, LearnerEntry)
        return entry


def _builtin_modules() -> Iterable[str]:
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            yield f"{package_name}.{info.name}"
    yield from _MODULES


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if module in _plugin_modules():
            raise ConfigError(f"{PLUGINS_ENV}: cannot import {module!r} ({exc})") from None
        raise


def _plugin_modules() -> list[str]:
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


REGISTRY = Registry()
"""The runner's registry."""
