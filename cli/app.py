"""The ``syllabus`` command: train, eval, plot, configs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from syllabus.cli.errors import DEBUG_ENV, USAGE_EXIT, UserError, enable_debug, report, user_error_types
from syllabus.cli.train_command import TrainCommand

app = typer.Typer(
    name="syllabus",
    help="Curriculum-learning experiments: train with Hydra configs, evaluate, plot.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # for every command: -h is never Hydra's
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: readable at 80 columns, full option names
)

_HYDRA_FLAGS_WITHOUT_RESUME = (
    "-m",
    "--multirun",
    "-cd",
    "--config-dir",
    "-cn",
    "--config-name",
    "-cp",
    "--config-path",
)


def _show_version(value: bool) -> None:
    if value:
        from syllabus import __version__

        typer.echo(f"syllabus-curriculum {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help=f"Show tracebacks of errors (also with the environment variable {DEBUG_ENV}=1).",
        ),
    ] = False,
) -> None:
    """Curriculum-learning experiments: train with Hydra configs, evaluate, plot."""
    if debug:
        enable_debug()


def _command_line() -> str:
    return shlex.join(["syllabus", *sys.argv[1:]])


def _check_run_dir(run_dir: Path) -> Path:
    config = run_dir / ".hydra" / "config.yaml"
    if not config.exists():
        raise UserError(f"{run_dir} is not a run directory: {config} is missing")
    return run_dir.resolve()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@app.command(
    cls=TrainCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    options_metavar="[OPTIONS] [OVERRIDES]...",
    short_help="Train with Hydra configs and overrides; sweeps with -m.",
    help=(
        "Train with Hydra overrides, e.g. `syllabus train env=procgen curriculum=plr seed=3`. "
        "Hydra's grammar and flags work: -m/--multirun sweeps (`-m curriculum=dr,plr seed=0,1`, "
        "`hydra/launcher=joblib` for parallel jobs), --cfg job, --config-dir DIR, hydra.run.dir=DIR. "
        "Relaunch a run from its saved config with `--config-dir RUN_DIR/.hydra --config-name config`."
    ),
)
def train(
    ctx: typer.Context,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue RUN_DIR from its latest checkpoint (model, optimizer, curriculum, step count) "
            "with its saved config; value overrides such as total_timesteps=N still apply.",
            file_okay=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Periodic log lines instead of a progress bar.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    from syllabus.cli.hydra_app import run_train

    args = list(ctx.args)
    if any(a in ("-sc", "--shell-completion") or a.startswith("--shell-completion=") for a in args):
        raise UserError(
            "Hydra's shell completion does not apply to `syllabus train`; "
            "install syllabus's own with: syllabus --install-completion"
        )
    if resume is not None:
        run_dir = _check_run_dir(resume)
        clash = [a for a in args if a.split("=")[0] in _HYDRA_FLAGS_WITHOUT_RESUME]
        if clash:
            raise UserError(f"--resume cannot be combined with {clash[0]}")
        args = [
            "--config-dir",
            str(run_dir / ".hydra"),
            "--config-name",
            "config",
            f"hydra.run.dir={_quote(str(run_dir))}",
            "hydra.output_subdir=null",
            "hydra.job.name=train",  # Hydra's log goes on in train.log
            *args,
        ]
    run_train(args, command=_command_line(), resume=resume is not None, quiet=quiet)


@app.command("eval")
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with a checkpoint.", file_okay=False)],
    episodes_per_task: Annotated[
        int, typer.Option("--episodes-per-task", "-n", min=1, help="Episodes on each task.")
    ] = 3,
    max_tasks: Annotated[int, typer.Option(min=0, help="Evaluate at most this many tasks (0: all).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the evaluation episodes.")] = 12345,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the greedy action.")] = False,
) -> None:
    """Evaluate a run's final checkpoint on held-out tasks (Procgen: levels outside the training set)."""
    from syllabus.cli.evaluate import evaluate_run

    result = evaluate_run(
        _check_run_dir(run_dir),
        episodes_per_task=episodes_per_task,
        max_tasks=max_tasks or None,
        seed=seed,
        deterministic=not stochastic,
    )
    typer.echo(
        f"{result['episodes']} episodes on {len(result['tasks'])} {result['task_set']} tasks: "
        f"return {result['return_mean']:.2f} +- {result['return_std']:.2f}; wrote {run_dir / 'eval.json'}"
    )


@app.command()
def plot(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories to plot side by side.", file_okay=False)
    ],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory of the comparison plot.")] = None,
) -> None:
    """Write PNG learning curves of the runs and a task-distribution-over-time plot of each."""
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a directory for the plots")
    for run_dir in run_dirs:
        _check_run_dir(run_dir)
        missing = [
            name for name in ("logs/progress.csv", "logs/episodes.csv") if not (run_dir / name).is_file()
        ]
        if missing:
            raise UserError(
                f"{run_dir} has no logs to plot ({missing[0]} is missing): the run has not logged yet"
            )
    try:
        from syllabus.cli.plot import plot_runs
    except ImportError as exc:
        raise UserError(
            f'plotting needs matplotlib: pip install "syllabus-curriculum[runner]" ({exc})'
        ) from None
    for path in plot_runs([_check_run_dir(d) for d in run_dirs], out):
        typer.echo(str(path))


@app.command()
def configs() -> None:
    """List the config groups and their options (* marks the default)."""
    from syllabus.cli.catalog import describe_configs

    typer.echo(describe_configs())


def main() -> None:
    """Entry point of the ``syllabus`` console script: a user's mistake is one line on stderr and exit 2."""
    try:
        app(prog_name="syllabus")
    except user_error_types() as exc:
        report("syllabus", str(exc), exc)
        raise SystemExit(USAGE_EXIT) from None


if __name__ == "__main__":
    main()
