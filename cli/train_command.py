"""The ``syllabus train`` command's help and shell completion, both about Hydra overrides.

Its help (``-h`` and ``--help`` alike) lists the config groups with their options and Hydra's flags;
shell completion (``syllabus --install-completion``) offers group names, their options and the keys
of the composed config. The config is read only when help or completion is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typer.core import TyperCommand

if TYPE_CHECKING:  # TyperCommand's types: the copy of click that recent Typer ships
    from typer._click import Context, HelpFormatter
    from typer._click.shell_completion import CompletionItem
else:
    try:  # recent Typer ships its own copy of click and does not install click
        from typer._click.shell_completion import CompletionItem
    except ImportError:
        from click.shell_completion import CompletionItem

TOP_LEVEL_KEYS = ("seed", "total_timesteps", "num_envs")
HYDRA_FLAGS = (
    (
        "-m, --multirun",
        "One job per combination of comma-separated values, e.g. -m curriculum=dr,plr seed=0,1.",
    ),
    (
        "-c, --cfg job|hydra|all",
        "Print the composed config and exit (--resolve: with interpolations resolved).",
    ),
    ("-p, --package PACKAGE", "With --cfg: print only this part of the config, e.g. -p learner."),
    (
        "-i, --info [config|defaults|defaults-tree|plugins|searchpath|all]",
        "Print how the config is composed.",
    ),
    ("-cd, --config-dir DIR", "Also search DIR for config groups and options (your own configs)."),
    ("-cn, --config-name NAME", "The primary config (default: train; with -cd RUN_DIR/.hydra: config)."),
    ("--hydra-help", "Hydra's own help."),
)


def config_group_rows() -> list[tuple[str, str]]:
    """``(group, "option, option*, ...")`` for every config group; ``*`` marks the default."""
    from syllabus.cli.config_listing import default_choices, group_options

    defaults = default_choices()
    rows = []
    for group, options in group_options().items():
        default = defaults.get(group)
        shown = ", ".join(f"{o}*" if o == default else o for o in options)
        if default is not None and "${" in str(default):
            shown += f" (picked as {default})"
        rows.append((group, shown))
    rows.append(("top-level keys", ", ".join(TOP_LEVEL_KEYS)))
    return rows


def _rejoin(words: list[str]) -> list[str]:
    """The words with bash's split overrides joined again: ``env``, ``=``, ``procgen`` is ``env=procgen``."""
    joined: list[str] = []
    glue = False
    for word in words:
        if word == "=" and joined:
            joined[-1] += "="
            glue = True
        elif glue:
            joined[-1] += word
            glue = False
        else:
            joined.append(word)
    return joined


def _chosen_options(typed: list[str]) -> list[str]:
    """The ``GROUP=OPTION`` overrides among ``typed`` (the words before the one being completed)."""
    from syllabus.cli.config_listing import group_options

    groups = group_options()
    return [word for word in typed if word.partition("=")[0].lstrip("+~") in groups and "," not in word]


def _composed(typed: list[str]) -> Any:
    """The config composed with the group choices typed so far (``None`` if they do not compose)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException
    from syllabus.cli.hydra_app import CONFIG_DIR

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose("train", overrides=_chosen_options(typed))
    except (HydraException, OmegaConfBaseException):
        return None


def complete_override(incomplete: str, typed: list[str]) -> list[str]:
    """Completions of one Hydra override word: ``GROUP=`` and keys, a group's options, a group's keys.

    Args:
        incomplete: The word being completed, e.g. ``env=pro``, ``learner.n_`` or ``cur``.
        typed: The words before it (their ``GROUP=OPTION`` choices decide which keys exist).

    Returns:
        The completed words, e.g. ``["env=procgen"]``.
    """
    from omegaconf import DictConfig
    from syllabus.cli.config_listing import group_options

    groups = group_options()
    prefix = incomplete[: len(incomplete) - len(incomplete.lstrip("+~"))]
    word = incomplete[len(prefix) :]
    key, equals, value = word.partition("=")
    if equals:
        if key not in groups:
            return []
        done, _, last = value.rpartition(",")  # a sweep's comma-separated list: complete its last item
        head = f"{prefix}{key}={done + ',' if done else ''}"
        return [head + option for option in groups[key] if option.startswith(last)]
    if "." not in word:
        names = [f"{g}=" for g in groups] + [f"{k}=" for k in TOP_LEVEL_KEYS]
        names += [f"{g}." for g in groups if "/" not in g and g != "experiment"]
        return [prefix + name for name in sorted(names) if name.startswith(word)]
    cfg = _composed(typed)
    *path, last = word.split(".")
    node = cfg
    for part in path:
        node = node.get(part) if isinstance(node, DictConfig) else None
    if not isinstance(node, DictConfig):
        return []
    dotted = ".".join(path)
    found = []
    for node_key in node.keys():
        name = str(node_key)  # a composed config's keys are strings
        if name.startswith(last) and name != "name":
            child = node._get_node(node_key)
            end = "." if isinstance(child, DictConfig) else "="
            found.append(f"{prefix}{dotted}.{name}{end}")
    return sorted(found)


class TrainCommand(TyperCommand):
    """``syllabus train``: Typer's command with the config groups in its help and override completion."""

    def format_epilog(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The config groups and their options, then Hydra's flags."""
        with formatter.section("Config groups (* = default)"):
            formatter.write_dl(config_group_rows())
            formatter.write_paragraph()
            formatter.write_text(
                "Pick an option with GROUP=OPTION, set a key with GROUP.KEY=VALUE (e.g. env=procgen "
                "env.num_levels=200); `syllabus configs` lists the groups, `syllabus train --cfg job` "
                "prints the composed config."
            )
        with formatter.section("Hydra flags"):
            formatter.write_dl(list(HYDRA_FLAGS))
        super().format_epilog(ctx, formatter)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        """Options for ``-...``; otherwise Hydra overrides.

        bash splits ``env=pro`` into the words ``env``, ``=`` and ``pro``: completions replace only the last.
        """
        items = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            return items
        typed = _rejoin(list(ctx.args))
        if not incomplete and typed and "=" not in typed[-1]:
            # bash, the cursor right after `GROUP=`: click drops the "=" word, which bash then replaces
            key = typed.pop()
            found = ["=" + c.removeprefix(f"{key}=") for c in complete_override(f"{key}=", typed)]
        elif typed and typed[-1].endswith("="):  # bash: `GROUP=`, then the word being completed
            key = typed.pop()
            found = [c.removeprefix(key) for c in complete_override(key + incomplete, typed)]
        else:
            found = complete_override(incomplete, typed)
        return items + [CompletionItem(c) for c in found]
