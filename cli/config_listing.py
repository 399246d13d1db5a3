"""What ``syllabus configs`` prints: every config group, its options and the default."""

from __future__ import annotations

from pathlib import Path

import yaml
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.registry import GROUPS, REGISTRY


def group_options(config_dir: Path = CONFIG_DIR) -> dict[str, list[str]]:
    """Options of every config group, e.g. ``{"env": ["cartpole", ...]}``: the registry's entries for
    ``env``, ``curriculum``, ``sync`` and ``learner`` (with any ``SYLLABUS_PLUGINS``), the YAML files
    under ``config_dir`` for the other groups (``logger``, ``experiment``, ...)."""
    groups: dict[str, list[str]] = {}
    for path in sorted(config_dir.rglob("*.yaml")):
        group = path.parent.relative_to(config_dir).as_posix()
        if group != ".":
            groups.setdefault(group, []).append(path.stem)
    for group in GROUPS:
        groups[group] = list(REGISTRY.entries(group))
    return groups


def default_choices(config_dir: Path = CONFIG_DIR) -> dict[str, str | None]:
    """The option each group gets from ``train.yaml``'s defaults list."""
    defaults = yaml.safe_load((config_dir / "train.yaml").read_text()).get("defaults", [])
    choices: dict[str, str | None] = {}
    for entry in defaults:
        if isinstance(entry, dict):
            ((key, value),) = entry.items()
            group = key.removeprefix("optional ").split("@")[0]
            choices[group] = value
    return choices


def describe_configs(config_dir: Path = CONFIG_DIR) -> str:
    """A table of groups and options, defaults starred, with how to pick them."""
    defaults = default_choices(config_dir)
    groups = group_options(config_dir)
    width = max(map(len, groups))
    lines = [
        f"Config groups in {config_dir} (* = default). Pick with GROUP=OPTION, e.g. syllabus train env=procgen"
    ]
    for group, options in groups.items():
        default = defaults.get(group)
        shown = ", ".join(f"{o}*" if o == default else o for o in options)
        note = ""
        if default is not None and "${" in str(default):
            note = f"   (chosen automatically: {default})"
        elif group == "experiment":
            note = "   (presets: syllabus train experiment=NAME)"
        lines.append(f"  {group:<{width}}  {shown}{note}")
    lines.append(
        "Top-level keys: seed, total_timesteps, num_envs. Show a composed config: syllabus train --cfg job"
    )
    return "\n".join(lines)
