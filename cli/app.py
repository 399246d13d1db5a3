"""The ``syllabus`` command: train, eval, compare, plot, configs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from syllabus.cli.errors import DEBUG_ENV, USAGE_EXIT, USER_ERRORS, UserError, enable_debug, report
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
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, or sweep directories whose runs are all evaluated.", file_okay=False
        ),
    ],
    episodes_per_task: Annotated[
        int, typer.Option("--episodes-per-task", "-n", min=1, help="Episodes on each task.")
    ] = 3,
    max_tasks: Annotated[int, typer.Option(min=0, help="Evaluate at most this many tasks (0: all).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the evaluation episodes.")] = 12345,
    mode: Annotated[
        str,
        typer.Option(help="greedy (most likely action), sampled (actions drawn from the policy) or both."),
    ] = "both",
) -> None:
    """Evaluate runs' final checkpoints on held-out tasks (Procgen: levels outside the training set), greedy
    and sampled side by side; each evaluation goes to RUN_DIR/eval/<checkpoint>-<mode>-seed<seed>.json."""
    from syllabus.cli.evaluate import evaluate_run
    from syllabus.cli.runs import EVAL_MODES, find_runs

    if mode not in (*EVAL_MODES, "both"):
        raise UserError(f"--mode {mode!r} is not a mode; valid choices: greedy, sampled, both")
    modes = EVAL_MODES if mode == "both" else (mode,)
    runs = find_runs(paths)
    rows: list[tuple[Path, dict[str, dict]]] = []
    for run_dir in runs:
        try:
            written = evaluate_run(
                run_dir,
                modes=modes,
                episodes_per_task=episodes_per_task,
                max_tasks=max_tasks or None,
                seed=seed,
            )
        except USER_ERRORS as exc:
            if len(runs) == 1:
                raise
            typer.echo(f"syllabus eval: skipped {run_dir}: {exc}", err=True)
            continue
        rows.append((run_dir, {result["mode"]: result for _, result in written}))
        for path, _ in written:
            typer.echo(f"wrote {path}", err=True)
    if not rows:
        raise UserError(f"no run in {', '.join(map(str, paths))} has a checkpoint to evaluate")
    _print_evaluations(rows, modes)


def _print_evaluations(rows: list[tuple[Path, dict[str, dict]]], modes: tuple[str, ...]) -> None:
    """A table of each run's evaluation: one return and one success column per mode."""
    from rich.table import Table
    from syllabus.cli.compare.report import table_console

    def number(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    first = next(iter(rows[0][1].values()))
    episodes, tasks = first["episodes_per_task"], len(first["tasks"])
    table = Table(
        title=f"{episodes} episode{'s' * (episodes != 1)} on each of {tasks} {first['task_set']} task{'s' * (tasks != 1)}"
    )
    table.add_column("run")
    table.add_column("checkpoint")
    for m in modes:
        table.add_column(f"{m} return", justify="right")
        table.add_column(f"{m} success", justify="right")
    common = Path(*_common_parts([run for run, _ in rows]))
    for run_dir, results in rows:
        any_result = next(iter(results.values()))
        cells = [str(run_dir.relative_to(common)) if run_dir != common else run_dir.name]
        cells.append(f"{any_result['checkpoint']} ({any_result['step']} steps)")
        for m in modes:
            cells += [number(results[m]["mean_return"], ".2f"), number(results[m]["success_rate"], ".0%")]
        table.add_row(*cells)
    table_console().print(table)


def _common_parts(paths: list[Path]) -> tuple[str, ...]:
    """The longest common leading parts of ``paths``."""
    parts = paths[0].parts
    for path in paths[1:]:
        n = 0
        while n < min(len(parts), len(path.parts)) and parts[n] == path.parts[n]:
            n += 1
        parts = parts[:n]
    return parts


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
def compare(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Run directories or sweep directories (searched for runs).", file_okay=False),
    ],
    by: Annotated[
        str | None,
        typer.Option(
            help="Group by these config keys (comma-separated, e.g. curriculum.name) instead of by "
            "every config value that differs between runs."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Directory of the table and plots (default: PATH/compare for one PATH, else ./compare).",
        ),
    ] = None,
    reps: Annotated[int, typer.Option(min=100, help="Bootstrap replications.")] = 2000,
) -> None:
    """Compare runs over seeds: IQM and mean with 95% stratified-bootstrap CIs, probability of improvement,
    learning curves (rliable); writes compare.csv, compare.md and PNGs."""
    from syllabus.cli.runs import find_runs

    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a directory for the table and plots")
    runs = find_runs(paths)
    try:
        from syllabus.cli import compare as comparing
    except ImportError as exc:
        raise UserError(
            f'compare needs rliable and matplotlib: pip install "syllabus-curriculum[runner]" ({exc})'
        ) from None
    target = out if out is not None else (paths[0] / "compare" if len(paths) == 1 else Path("compare"))
    keys = [key.strip() for key in by.split(",") if key.strip()] if by else None
    result = comparing.compare([comparing.load_run(run) for run in runs], target, by=keys, reps=reps)
    comparing.print_table(result)
    for path in result.files:
        typer.echo(str(path))


@app.command()
def configs() -> None:
    """List the config groups and their options (* marks the default)."""
    from syllabus.cli.config_listing import describe_configs

    typer.echo(describe_configs())


def main() -> None:
    """Entry point of the ``syllabus`` console script: a user's mistake is one line on stderr and exit 2."""
    try:
        app(prog_name="syllabus")
    except USER_ERRORS as exc:
        report("syllabus", str(exc), exc)
        raise SystemExit(USAGE_EXIT) from None


if __name__ == "__main__":
    main()
