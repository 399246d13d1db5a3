"""The report of ``syllabus compare``: ``compare.csv``, ``compare.md``, ``learning_curves.png`` (each
group's IQM training return over steps), ``intervals.png`` (each metric's IQM per group) and the
console tables."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from syllabus.cli.compare.statistics import CONFIDENCE, Estimate, iqm_curve
from syllabus.cli.run_data import Run

if TYPE_CHECKING:
    from syllabus.cli.compare import Comparison

COMPARISON_FILES = ("compare.csv", "compare.md", "learning_curves.png", "intervals.png")
CURVE_POINTS = 40
CURVE_WINDOW = 0.1  # a curve point: the mean return of episodes in the last tenth of the steps


def write_report(
    out: Path,
    groups: dict[str, list[Run]],
    estimates: list[Estimate],
    improvement: dict[tuple[str, str, str], tuple[float, float, float]],
    *,
    reps: int,
    seed: int,
) -> list[Path]:
    """Writes the table (CSV and markdown) and the plots into ``out``; returns the files written.

    Args:
        out: The directory, made when missing.
        groups: Group label -> its runs.
        estimates: One per metric and group.
        improvement: ``(metric, X, Y) -> (P(X > Y), low, high)``.
        reps: Bootstrap replications of the learning curves' CIs.
        seed: Seed of their bootstrap.
    """
    out.mkdir(parents=True, exist_ok=True)
    files = [
        _write_csv(out / COMPARISON_FILES[0], estimates),
        _write_markdown(out / COMPARISON_FILES[1], groups, estimates, improvement),
    ]
    files.append(plot_learning_curves(groups, out / COMPARISON_FILES[2], reps=reps, seed=seed))
    if estimates:
        files.append(plot_intervals(estimates, out / COMPARISON_FILES[3]))
    return files


def _interval(values: tuple[float, float, float], fmt: str = ".2f") -> str:
    point, low, high = values
    return f"{point:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _write_csv(path: Path, estimates: list[Estimate]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["metric", "group", "runs", "iqm", "iqm_low", "iqm_high", "mean", "mean_low", "mean_high"]
        )
        for e in estimates:
            writer.writerow([e.metric, e.group, e.runs, *e.iqm, *e.mean])
    return path


def _write_markdown(
    path: Path,
    groups: dict[str, list[Run]],
    estimates: list[Estimate],
    improvement: dict[tuple[str, str, str], tuple[float, float, float]],
) -> Path:
    lines = [
        f"IQM and mean over runs, with {CONFIDENCE:.0%} stratified-bootstrap confidence intervals (rliable).",
        "",
        "| metric | group | runs | IQM [95% CI] | mean [95% CI] |",
        "|---|---|---:|---|---|",
    ]
    lines += [
        f"| {e.metric} | {e.group} | {e.runs} | {_interval(e.iqm)} | {_interval(e.mean)} |" for e in estimates
    ]
    if improvement:
        labels = list(groups)
        metric = next(iter(improvement))[0]
        lines += ["", f"Probability of improvement on {metric}, P(row > column) [95% CI]:", ""]
        lines += ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for x in labels:
            cells = [
                _interval(improvement[(metric, x, y)]) if (metric, x, y) in improvement else ""
                for y in labels
            ]
            lines.append(f"| {x} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")
    return path


def _curve_grid(groups: dict[str, list[Run]]) -> np.ndarray:
    """Steps at which every run's curve is sampled: up to the last step all runs with episodes reached."""
    ends = [
        run.episode_steps.max() for members in groups.values() for run in members if run.episode_steps.size
    ]
    return np.linspace(0, min(ends), CURVE_POINTS + 1)[1:] if ends else np.zeros(0)


def run_curve(run: Run, grid: np.ndarray) -> np.ndarray:
    """The run's mean episode return in the window of steps (a tenth of the grid) ending at each grid point (the last value
    carried forward through windows without an episode; NaN before the first episode)."""
    width = max(grid[0], grid[-1] * CURVE_WINDOW) if grid.size else 0.0
    steps, returns = run.episodes_by_step()
    values, last = np.full(grid.shape, np.nan), np.nan
    for i, end in enumerate(grid):
        window = returns[(steps > end - width) & (steps <= end)]
        last = float(window.mean()) if window.size else last
        values[i] = last
    return values


def plot_learning_curves(groups: dict[str, list[Run]], path: Path, *, reps: int, seed: int) -> Path:
    """Training return against env steps: each group's IQM over runs with a 95% CI band."""
    from matplotlib.figure import Figure

    grid = _curve_grid(groups)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for color, (label, members) in zip(_colors(len(groups)), groups.items(), strict=True):
        curves = (
            np.stack([run_curve(run, grid) for run in members if run.episode_steps.size])
            if grid.size
            else None
        )
        if curves is None or not curves.size:
            continue
        valid = ~np.isnan(curves).any(axis=0)
        points, low, high = iqm_curve(curves[:, valid], reps=reps, seed=seed)
        ax.plot(grid[valid], points, color=color, label=f"{label} ({len(curves)} runs)")
        ax.fill_between(grid[valid], low, high, color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training episode return (IQM, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=120)
    return path


def plot_intervals(estimates: list[Estimate], path: Path) -> Path:
    """One panel per metric: each group's IQM (dot) with its 95% CI (bar), groups in the same order and color."""
    from matplotlib.figure import Figure

    metric_names = list(dict.fromkeys(e.metric for e in estimates))
    labels = list(dict.fromkeys(e.group for e in estimates))
    colors = dict(zip(labels, _colors(len(labels)), strict=True))
    cols = min(3, len(metric_names))
    rows = -(-len(metric_names) // cols)
    fig = Figure(figsize=(3.4 * cols + 2.0, rows * (0.45 * len(labels) + 1.4)), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
    for ax in axes[len(metric_names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes, metric_names, strict=False):
        for e in (e for e in estimates if e.metric == name):
            y = labels.index(e.group)
            point, low, high = e.iqm
            ax.hlines(y, low, high, color=colors[e.group], linewidth=8, alpha=0.45)
            ax.plot([point], [y], "o", color=colors[e.group], markersize=6)
        if name.endswith("success"):
            ax.set_xlim(-0.05, 1.05)
        ax.set_title(name, fontsize="medium")
        ax.set_xlabel("IQM (95% CI)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(range(len(labels)), labels)
    axes[0].set_ylim(len(labels) - 0.5, -0.5)
    fig.savefig(path, dpi=120)
    return path


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    return [colormaps["tab10"](i % 10) for i in range(n)]


def table_console() -> Any:
    """A rich console for wide tables: the terminal's width, or 160 columns when output is not a terminal."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def print_table(comparison: Comparison) -> None:
    """The estimates (and probabilities of improvement) as rich tables on the terminal."""
    from rich.table import Table

    console = table_console()
    table = Table(title=f"IQM and mean over runs, {CONFIDENCE:.0%} stratified-bootstrap CIs (rliable)")
    for column, justify in (
        ("metric", "left"),
        ("group", "left"),
        ("runs", "right"),
        ("IQM [95% CI]", "right"),
        ("mean [95% CI]", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    previous = None
    for e in comparison.estimates:
        table.add_row(
            e.metric if e.metric != previous else "",
            e.group,
            str(e.runs),
            _interval(e.iqm),
            _interval(e.mean),
        )
        previous = e.metric
    console.print(table)
    if comparison.improvement:
        labels = list(comparison.groups)
        metric = next(iter(comparison.improvement))[0]
        table = Table(title=f"P(row > column) on {metric} [95% CI]")
        table.add_column("")
        for label in labels:
            table.add_column(label, justify="right")
        for x in labels:
            table.add_row(
                x, *(_interval(comparison.improvement[(metric, x, y)]) if x != y else "" for y in labels)
            )
        console.print(table)
