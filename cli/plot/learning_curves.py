"""Learning curves of runs side by side: runs grouped by config (seeds averaged), each episode's return
smoothed by a trailing mean over episodes, evaluation results marked on the curves."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from syllabus.cli.plot.axes import steps_axis
from syllabus.cli.run_data import EvalResult, Run, describe, differing_keys, is_seed_override, without_seed

LEARNING_CURVES_PNG = "learning_curves.png"
MAX_OVERRIDE_CHARS = 32  # an override in a legend label is cut to this many characters
CURVE_POINTS = 200  # points of a learning curve (fewer when the run has fewer episodes)
MAX_WINDOW = 100  # at most this many episodes in a learning curve's trailing mean
EVAL_MARKERS = {"greedy": "D", "sampled": "o"}


@dataclass
class RunGroup:
    """Runs whose configs are equal apart from the seed."""

    label: str
    runs: list[Run] = field(default_factory=list)


def group_runs(runs: list[Run]) -> list[RunGroup]:
    """Groups runs whose configs are equal apart from ``seed``, in order of first appearance.

    Each group is labelled by its non-seed overrides that not every group shares; when overrides
    do not tell groups apart, by the config values that differ between groups; a single group by
    its overrides, else by ``curriculum.name on env.name``.
    """
    keyed: dict[str, RunGroup] = {}
    for run in runs:
        key = json.dumps(without_seed(run.config), sort_keys=True, default=str)
        keyed.setdefault(key, RunGroup(label="")).runs.append(run)
    groups = list(keyed.values())
    overrides = [[o for o in group.runs[0].overrides if not is_seed_override(o)] for group in groups]
    shared = set.intersection(*(set(o) for o in overrides)) if len(groups) > 1 else set()
    labels = [
        ", ".join(_shorten(o) for o in group_overrides if o not in shared) for group_overrides in overrides
    ]
    if len(groups) > 1 and len(set(labels)) < len(labels):
        labels = _differing_config_labels(groups)
    for group, label in zip(groups, labels, strict=True):
        group.label = label or describe(group.runs[0].config) or group.runs[0].name
    return groups


def _shorten(override: str, width: int = MAX_OVERRIDE_CHARS) -> str:
    """An override cut to ``width`` characters with an ellipsis (a long list stays one legend line)."""
    return override if len(override) <= width else override[: width - 1] + "\u2026"


def _differing_config_labels(groups: list[RunGroup]) -> list[str]:
    """Labels each group by the (seedless) config values that are not the same in every group."""
    firsts = [group.runs[0] for group in groups]
    differing = differing_keys(firsts)
    return [", ".join(_shorten(f"{k}={run.flat_config.get(k)}") for k in differing) for run in firsts]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start); NaNs are skipped."""
    if window <= 1 or len(values) == 0:
        return values.astype(np.float64)
    valid = ~np.isnan(values)
    sums = np.cumsum(np.where(valid, values, 0.0))
    counts = np.cumsum(valid)
    sums[window:] = sums[window:] - sums[:-window]
    counts[window:] = counts[window:] - counts[:-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def default_window(num_episodes: int) -> int:
    """Episodes in a learning curve's trailing mean: a tenth of the run's episodes, from 1 to 100."""
    return int(min(MAX_WINDOW, max(1, num_episodes // 10)))


def episode_curve(run: Run, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The run's episode returns, smoothed over the last ``window`` episodes, against their end step."""
    steps, returns = run.episodes_by_step()
    valid = ~np.isnan(returns)
    return steps[valid], smooth(returns[valid], window)


def group_curve(
    group: RunGroup, window: int | None = None, points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation across the group's seeds of the smoothed episode returns.

    Each seed's curve ([`episode_curve`][syllabus.cli.plot.learning_curves.episode_curve]) is interpolated onto at most ``points`` evenly spaced
    steps, from the first episode end of any seed up to the last step every seed reached; a seed
    counts only from its own first episode on.

    Args:
        group: Runs of one configuration.
        window: Episodes in the trailing mean; by default [`default_window`][syllabus.cli.plot.learning_curves.default_window] of the group's
            shortest run.
        points: The most points of the curve (fewer when the runs have fewer episodes).
    """
    if window is None:
        window = default_window(min(len(run.tasks) for run in group.runs))
    curves = [curve for curve in (episode_curve(run, window) for run in group.runs) if len(curve[0])]
    if not curves:
        return np.empty(0), np.empty(0), np.empty(0)
    first = min(x[0] for x, _ in curves)
    last = min(x[-1] for x, _ in curves)
    size = max(1, min(points, max(len(x) for x, _ in curves)))
    grid = np.linspace(first, last, size) if last > first else np.array([last])
    stacked = np.array([np.interp(grid, x, y, left=np.nan) for x, y in curves])
    return grid, np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


def plot_learning_curves(groups: list[RunGroup], path: Path, window: int | None = None) -> Path:
    """One line per group (mean over seeds, band of one standard deviation); returns ``path``.

    A single run also shows its individual episode returns as faint dots. Evaluation results
    ([`load_evals`][syllabus.cli.run_data.load_evals]) are marked at their checkpoint's step in the
    group's colour (diamonds: greedy actions, circles: sampled; the mean over seeds, with the
    spread across seeds as an error bar), the last one labelled with its success rate when known.
    The legend sits below the axes, clear of the data.

    Args:
        groups: From [`group_runs`][syllabus.cli.plot.learning_curves.group_runs].
        path: The PNG to write.
        window: Episodes in the trailing mean; by default a tenth of each group's episodes (1 to 100).
    """
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for group in groups:
        group_window = window or default_window(min(len(run.tasks) for run in group.runs))
        steps, mean, std = group_curve(group, group_window)
        seeds = len(group.runs)
        label = f"{group.label} ({seeds} seed{'s' if seeds > 1 else ''}, mean of {group_window} episodes)"
        if len(steps) == 0:
            (line,) = ax.plot([], [], label=f"{group.label}: no episodes yet")
        else:
            (line,) = ax.plot(steps, mean, label=label)
        if seeds > 1 and len(steps):
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        elif len(groups) == 1 and len(steps):
            run = group.runs[0]
            ax.scatter(run.episode_steps, run.episode_returns, s=4, color=line.get_color(), alpha=0.25, lw=0)
        _mark_evals(ax, group, line.get_color())
    steps_axis(ax)
    ax.set_ylabel("episode return (trailing mean over episodes)")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    entries = len(ax.get_legend_handles_labels()[1])
    fig.legend(loc="outside lower center", ncols=2 if entries > 1 else 1, fontsize="small", frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _mark_evals(ax: Any, group: RunGroup, color: Any) -> None:
    """The group's evaluation results on its learning curve: per (step, mode), the mean over runs."""
    by_point: dict[tuple[float, str], list[EvalResult]] = defaultdict(list)
    for run in group.runs:
        for result in run.evals:
            by_point[(result.step, result.mode)].append(result)
    for mode in sorted({mode for _, mode in by_point}):
        points = sorted((step, results) for (step, m), results in by_point.items() if m == mode)
        steps = np.array([step for step, _ in points])
        returns = [np.array([r.mean_return for r in results]) for _, results in points]
        ax.errorbar(
            steps,
            [values.mean() for values in returns],
            yerr=[values.std() for values in returns],
            fmt=EVAL_MARKERS.get(mode, "s"),
            color=color,
            markeredgecolor="black",
            markersize=7,
            capsize=3,
            zorder=3,
            label=f"{group.label}: eval, {mode} actions ({len(returns[-1])} run{'s' if len(returns[-1]) > 1 else ''})",
        )
        rates = [r.success_rate for r in points[-1][1] if r.success_rate is not None]
        if rates:
            ax.annotate(
                f"{100 * float(np.mean(rates)):.0f}% success",
                (steps[-1], returns[-1].mean()),
                xytext=(-8, 8),
                textcoords="offset points",
                ha="right",
                fontsize="small",
                color=color,
            )
