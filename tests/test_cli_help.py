"""The CLI as Typer and Hydra users expect it: --version, help that lists the config groups and fits
80 columns, shell completion of overrides, and Hydra's own flags."""

from __future__ import annotations

import re
import subprocess

import pytest
from cli_fixtures import SYLLABUS, cli_env
from syllabus.cli.config_listing import group_options
from syllabus.cli.hydra_app import overrides_first
from timeouts import scaled

import syllabus

COMMANDS = ([], ["train"], ["eval"], ["plot"], ["configs"])


def run(*args: str, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``syllabus ARGS`` at 80 columns."""
    return subprocess.run(
        [*SYLLABUS, *args],
        cwd=cwd,
        env={**cli_env(), "COLUMNS": "80", **(env or {})},
        capture_output=True,
        text=True,
        timeout=scaled(120),
    )


@pytest.mark.parametrize("args", [["--version"], ["train", "--version"]])
def test_version(tmp_path, args):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"syllabus-curriculum {syllabus.__version__}\n"


def test_train_help_lists_config_groups_and_hydra_flags_for_h_and_help(tmp_path):
    long, short = run("train", "--help", cwd=tmp_path), run("train", "-h", cwd=tmp_path)
    assert long.returncode == short.returncode == 0, long.stderr + short.stderr
    assert long.stdout == short.stdout
    text = " ".join(long.stdout.split())  # the help's wrapping does not matter here
    for group, options in group_options().items():
        assert re.search(rf"\b{re.escape(group)} ", text), group
        for option in options:
            assert option in text, f"{group}={option} is not in the help"
    assert "plr*" in text and "cartpole*" in text  # defaults are marked
    for flag in ("--multirun", "--cfg", "--resolve", "--info", "--config-dir", "--config-name", "--resume"):
        assert flag in text, flag


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "syllabus")
def test_help_fits_80_columns_with_full_option_names(tmp_path, command):
    result = run(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(map(len, lines)) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert "…" not in result.stdout and "<bool>" not in result.stdout, result.stdout
    if command == ["eval"]:
        assert "--episodes-per-task" in result.stdout
    assert "--help" in result.stdout and "-h, --help" in result.stdout


def complete_bash(words: str, cword: int, cwd) -> list[str]:
    """What bash completion offers (Typer's script sends the line split into words, ``=`` a word of its own)."""
    result = run(
        cwd=cwd, env={"_SYLLABUS_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completion_of_overrides(tmp_path):
    assert complete_bash("syllabus tr", 1, tmp_path) == ["train"]
    names = complete_bash("syllabus train ", 2, tmp_path)
    assert {"env=", "curriculum=", "sync=", "learner=", "seed=", "total_timesteps=", "env."} <= set(names)
    assert complete_bash("syllabus train cur", 2, tmp_path) == ["curriculum.", "curriculum="]
    assert complete_bash("syllabus train env = pro", 4, tmp_path) == ["procgen"]
    assert complete_bash("syllabus train env =", 3, tmp_path) == [f"={o}" for o in group_options()["env"]]
    # keys of the options chosen so far
    keys = complete_bash("syllabus train env = procgen env.n", 5, tmp_path)
    assert keys == ["env.num_levels="]
    assert "learner.n_steps=" in complete_bash("syllabus train learner.n_", 2, tmp_path)
    assert complete_bash("syllabus train --qu", 2, tmp_path) == ["--quiet"]


def test_zsh_completion_of_a_sweep_list(tmp_path):
    result = run(
        cwd=tmp_path,
        env={"_SYLLABUS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "syllabus train curriculum=dr,pl"},
    )
    assert result.returncode == 0, result.stderr
    assert re.findall(r'"(curriculum=[\w,]+)"', result.stdout) == [
        "curriculum=dr,plr",
        "curriculum=dr,plr_reference",
    ]


def test_completion_installs_with_one_command_for_syllabus(tmp_path):
    # Typer detects the shell from the process tree (here: whatever runs pytest, `sh` in CI);
    # its test switch makes `--install-completion` take the shell by name instead.
    env = {"HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = run("--install-completion", "bash", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    script = (tmp_path / ".bash_completions" / "syllabus.sh").read_text()
    assert "_SYLLABUS_COMPLETE=complete_bash" in script and "syllabus-train" not in script
    assert re.search(r"complete .*-F \S+ syllabus$", script, re.M), script
    assert "syllabus.sh" in (tmp_path / ".bashrc").read_text()


def test_hydra_shell_completion_flag_points_to_ours(tmp_path):
    result = run("train", "-sc", "install=bash", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "syllabus: error: Hydra's shell completion does not apply to `syllabus train`; "
        "install syllabus's own with: syllabus --install-completion"
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--info"], "Installed Hydra Plugins"),
        (["--info", "defaults"], "Defaults List"),
        (["env=procgen", "--info", "config"], "game: bigfish"),
        (["--cfg", "job", "-p", "sync"], "start_method: forkserver"),
        (["--cfg", "job", "--resolve", "-p", "curriculum"], "gamma: 0.99"),
        (["-m", "seed=1,2", "--cfg", "job"], "Only one of --run, --multirun, --cfg"),
        (
            ["env=procgen", "--cfg", "job", "curriculum=plr", "-p", "curriculum"],
            "name: plr",
        ),  # flags anywhere
    ],
)
def test_hydra_flags(tmp_path, args, expected):
    result = run("train", *args, cwd=tmp_path)
    assert expected in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode == (2 if "-m" in args else 0), result.stderr
    assert not list(tmp_path.iterdir()), "printing the config wrote files"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["env=x", "-m", "seed=0,1"], ["env=x", "seed=0,1", "-m"]),
        (["a=1", "--cfg", "job", "b=2", "-p", "sync"], ["a=1", "b=2", "--cfg", "job", "-p", "sync"]),
        (["--info", "a=1"], ["a=1", "--info"]),  # an override is never --info's value
        (["a=1", "--info", "config"], ["a=1", "--info", "config"]),
        (["-cd", "my_configs", "env=mine"], ["env=mine", "-cd", "my_configs"]),
    ],
)
def test_overrides_go_first_and_flags_keep_their_values(args, expected):
    assert overrides_first(args) == expected


def test_config_dir_adds_a_users_own_option(tmp_path):
    configs = tmp_path / "my_configs" / "env"
    configs.mkdir(parents=True)
    (configs / "wide_cartpole.yaml").write_text("defaults:\n  - cartpole\n  - _self_\n\ntasks: [0.3, 0.4]\n")
    result = run(
        "train", "--config-dir", str(tmp_path / "my_configs"), "env=wide_cartpole", "--cfg", "job", "-p", "env",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "name: cartpole" in result.stdout and "- 0.4" in result.stdout
