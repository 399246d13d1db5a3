"""Plots of run directories: learning curves side by side, and each run's task distribution over time.

Reads what the runner writes in a run directory (see ``cli/run_logs.py``)::

    RUN/logs/episodes.csv    step,env_id,task,episode_return,episode_length (one row per episode)
    RUN/.hydra/config.yaml   the composed config (``curriculum.name``, ``env.name``, ``seed``, ...)
    RUN/.hydra/overrides.yaml  the command-line overrides, e.g. ``[curriculum=plr, seed=1]``

and writes PNGs with matplotlib's object API (Agg canvas, no display, no pyplot global state).
Learning curves are drawn from every episode (a trailing mean over episodes), not from the
periodic summaries in ``logs/progress.csv``. Task distributions treat an enumerable task set
(level seeds, env ids, a list of widths) as categories; only tasks sampled from a continuous
space get a 2D histogram of value against steps.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import yaml
from matplotlib.figure import Figure

EPISODES_FILE = Path("logs/episodes.csv")
CONFIG_FILE = Path(".hydra/config.yaml")
OVERRIDES_FILE = Path(".hydra/overrides.yaml")
EPISODES_COLUMNS = ("step", "task", "episode_return")
LEARNING_CURVES_PNG = "learning_curves.png"
TASK_DISTRIBUTION_PNG = "task_distribution.png"
SEED_KEY = "seed"
CURVE_POINTS = 200  # points of a learning curve (fewer when the run has fewer episodes)
MAX_WINDOW = 100  # at most this many episodes in a learning curve's trailing mean
MAX_TASK_BINS = 50  # bins of a task-distribution plot
EPISODES_PER_BIN = 25  # a task-distribution bin holds this many episodes (up to MAX_TASK_BINS bins)
TOP_K = 8  # tasks shown by name in the stacked-area view; the rest are "other"
CONTINUOUS_MIN_DISTINCT = 32  # fewer distinct float tasks than this are categories


@dataclass
class Run:
    """The logs and config of one run directory.

    Attributes:
        path: The run directory.
        config: The composed Hydra config.
        overrides: The command-line overrides (``key=value`` strings).
        episode_steps: Env steps at which each episode ended, in the order the episodes ended.
        episode_returns: Each episode's return.
        tasks: Each episode's task as written in the CSV.
    """

    path: Path
    config: dict[str, Any]
    overrides: list[str]
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    tasks: list[str]

    @property
    def name(self) -> str:
        """A short name: the directory name, with its parent's when it is a multirun job number."""
        return f"{self.path.parent.name}/{self.path.name}" if self.path.name.isdigit() else self.path.name


@dataclass
class RunGroup:
    """Runs whose configs are equal apart from the seed."""

    label: str
    runs: list[Run] = field(default_factory=list)


def _read_csv(path: Path, required: tuple[str, ...]) -> dict[str, list[str]]:
    """The columns of a CSV file; raises ValueError naming the file and a missing column."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} has no column {missing[0]!r} (header: {reader.fieldnames})")
        columns: dict[str, list[str]] = {column: [] for column in required}
        for row in reader:
            for column in required:
                columns[column].append(row[column])
    return columns


def _floats(values: list[str]) -> np.ndarray:
    """Parses CSV cells as floats, an empty cell as NaN."""
    return np.array([float(v) if v != "" else math.nan for v in values], dtype=np.float64)


def load_run(run_dir: Path | str) -> Run:
    """Reads a run directory.

    Raises:
        FileNotFoundError: If ``run_dir`` lacks one of the run files; the message names it.
        ValueError: If the episode log lacks a needed column.
    """
    run_dir = Path(run_dir)
    for name in (CONFIG_FILE, EPISODES_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir} is not a Syllabus run directory: {run_dir / name} is missing")
    config = yaml.safe_load((run_dir / CONFIG_FILE).read_text()) or {}
    overrides_path = run_dir / OVERRIDES_FILE
    overrides = (yaml.safe_load(overrides_path.read_text()) or []) if overrides_path.is_file() else []
    episodes = _read_csv(run_dir / EPISODES_FILE, EPISODES_COLUMNS)
    return Run(
        path=run_dir,
        config=config,
        overrides=[str(o) for o in overrides],
        episode_steps=_floats(episodes["step"]),
        episode_returns=_floats(episodes["episode_return"]),
        tasks=episodes["task"],
    )


def _without_seed(config: Any) -> Any:
    """``config`` with every ``seed`` key removed, at any depth."""
    if isinstance(config, dict):
        return {k: _without_seed(v) for k, v in config.items() if k != SEED_KEY}
    if isinstance(config, list):
        return [_without_seed(v) for v in config]
    return config


def _is_seed_override(override: str) -> bool:
    """Whether an override such as ``seed=1``, ``+seed=1`` or ``env.seed=1`` sets a seed."""
    key = override.split("=", 1)[0].lstrip("+~")
    return key.split(".")[-1] == SEED_KEY


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values."""
    if not isinstance(config, dict):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def group_runs(runs: list[Run]) -> list[RunGroup]:
    """Groups runs whose configs are equal apart from ``seed``, in order of first appearance.

    Each group is labelled by its non-seed overrides that not every group shares; when overrides
    do not tell groups apart, by the config values that differ between groups; a single group by
    its overrides, else by ``curriculum.name on env.name``.
    """
    keyed: dict[str, RunGroup] = {}
    for run in runs:
        key = json.dumps(_without_seed(run.config), sort_keys=True, default=str)
        keyed.setdefault(key, RunGroup(label="")).runs.append(run)
    groups = list(keyed.values())
    overrides = [[o for o in group.runs[0].overrides if not _is_seed_override(o)] for group in groups]
    shared = set.intersection(*(set(o) for o in overrides)) if len(groups) > 1 else set()
    labels = [", ".join(o for o in group_overrides if o not in shared) for group_overrides in overrides]
    if len(groups) > 1 and len(set(labels)) < len(labels):
        labels = _differing_config_labels(groups)
    for group, label in zip(groups, labels, strict=True):
        group.label = label or _describe(group.runs[0].config) or group.runs[0].name
    return groups


def _differing_config_labels(groups: list[RunGroup]) -> list[str]:
    """Labels each group by the (seedless) config values that are not the same in every group."""
    flats = [_flatten(_without_seed(group.runs[0].config)) for group in groups]
    keys = sorted(set().union(*flats))
    differing = [k for k in keys if len({json.dumps(f.get(k), default=str) for f in flats}) > 1]
    return [", ".join(f"{k}={flat.get(k)}" for k in differing) for flat in flats]


def _describe(config: dict[str, Any]) -> str:
    """``curriculum.name on env.name``, from what the config has of them."""
    names = [(config.get(part) or {}).get("name") for part in ("curriculum", "env")]
    return " on ".join(str(name) for name in names if name)


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
    order = np.argsort(run.episode_steps, kind="stable")
    steps, returns = run.episode_steps[order], run.episode_returns[order]
    valid = ~np.isnan(returns)
    return steps[valid], smooth(returns[valid], window)


def group_curve(
    group: RunGroup, window: int | None = None, points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation across the group's seeds of the smoothed episode returns.

    Each seed's curve (:func:`episode_curve`) is interpolated onto at most ``points`` evenly spaced
    steps, from the first episode end of any seed up to the last step every seed reached; a seed
    counts only from its own first episode on.

    Args:
        group: Runs of one configuration.
        window: Episodes in the trailing mean; by default :func:`default_window` of the group's
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

    A single run also shows its individual episode returns as faint dots.

    Args:
        groups: From :func:`group_runs`.
        path: The PNG to write.
        window: Episodes in the trailing mean; by default a tenth of each group's episodes (1 to 100).
    """
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for group in groups:
        group_window = window or default_window(min(len(run.tasks) for run in group.runs))
        steps, mean, std = group_curve(group, group_window)
        seeds = len(group.runs)
        label = f"{group.label} ({seeds} seed{'s' if seeds > 1 else ''}, mean of {group_window} episodes)"
        if len(steps) == 0:
            ax.plot([], [], label=f"{group.label}: no episodes yet")
            continue
        (line,) = ax.plot(steps, mean, label=label)
        if seeds > 1:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        elif len(groups) == 1:
            run = group.runs[0]
            ax.scatter(run.episode_steps, run.episode_returns, s=4, color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return (trailing mean over episodes)")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def is_continuous(tasks: list[str]) -> bool:
    """Whether the tasks look sampled from a continuous (Box) space rather than an enumerable set.

    Continuous means: every task is a number, not all are integers, and there are so many distinct
    values (at least 32, and more than half the episodes) that they rarely repeat. Names, level
    seeds and a short list of widths are categories.
    """
    if not tasks:
        return False
    try:
        values = [float(task) for task in tasks]
    except ValueError:
        return False
    if all(value.is_integer() for value in values):
        return False
    distinct = len(set(values))
    return distinct >= CONTINUOUS_MIN_DISTINCT and distinct > len(values) / 2


def _natural_key(task: str) -> tuple[Any, ...]:
    """Sort key: by value for numbers, else by text with digit runs compared as numbers (level-2 < level-10)."""
    try:
        return (0, float(task))
    except ValueError:
        parts = re.split(r"(\d+)", task)
        return (1, *((int(p) if i % 2 else p) for i, p in enumerate(parts)))


def task_order(tasks: Iterable[str]) -> list[str]:
    """The distinct tasks in natural order: numbers by value (0.02 < 0.1), names by text."""
    return sorted(set(tasks), key=_natural_key)


def _episode_bins(steps: np.ndarray, bins: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits the episodes, in step order, into bins of (nearly) equal numbers of episodes.

    Equal counts keep every bin's shares equally reliable, whether episodes are short (early in
    training) or long (later). ``bins`` defaults to one per 25 episodes, at most 50.

    Returns:
        Each episode's bin, the bins' edges in steps (first episode of each bin, then the last
        episode), and each bin's mean step.
    """
    count = len(steps)
    if bins is None:
        bins = min(MAX_TASK_BINS, max(1, count // EPISODES_PER_BIN))
    bins = max(1, min(bins, count))
    order = np.argsort(steps, kind="stable")
    columns = np.empty(count, dtype=np.int64)
    columns[order] = np.arange(count) * bins // max(count, 1)
    ordered = steps[order]
    starts = np.searchsorted(columns[order], np.arange(bins))
    edges = np.append(ordered[starts], ordered[-1]) if count else np.array([0.0, 1.0])
    sums = np.bincount(columns, weights=steps, minlength=bins)
    centres = sums / np.maximum(np.bincount(columns, minlength=bins), 1)
    return columns, edges, centres


def _shares(rows: np.ndarray, num_rows: int, columns: np.ndarray, bins: int) -> np.ndarray:
    """``(num_rows, bins)``: each row's share of the episodes in each bin."""
    hist = np.zeros((num_rows, bins))
    np.add.at(hist, (rows, columns), 1)
    totals = hist.sum(axis=0)
    return np.divide(hist, totals, out=np.zeros_like(hist), where=totals > 0)


def task_frequencies(
    steps: np.ndarray, tasks: list[str], bins: int | None = None, top_k: int = TOP_K
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per step bin, the share of episodes of each of the ``top_k`` most frequent tasks and of the rest.

    Episodes are binned in step order into bins of equal numbers of episodes (see ``bins`` of
    :func:`task_shares`).

    Returns:
        Each bin's mean step; the task labels, the ``top_k`` most frequent in natural order
        (:func:`task_order`) and ``"other"`` last when there are more tasks; and an array
        ``(labels, bins)`` of shares whose columns sum to 1.
    """
    top = task_order(task for task, _ in Counter(tasks).most_common(top_k))
    labels = top + (["other"] if len(set(tasks)) > top_k else [])
    index = {task: i for i, task in enumerate(top)}
    rows = np.array([index.get(task, len(top)) for task in tasks], dtype=np.int64)
    columns, _, centres = _episode_bins(steps, bins)
    return centres, labels, _shares(rows, len(labels), columns, len(centres))


def task_shares(
    steps: np.ndarray, tasks: list[str], bins: int | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per bin of episodes, every task's share of the episodes.

    Args:
        steps: The step at which each episode ended.
        tasks: Each episode's task.
        bins: Bins of equal numbers of episodes, in step order; by default one per 25 episodes
            (at most 50).

    Returns:
        The bin edges in steps, every task in natural order, and an array ``(tasks, bins)`` of shares.
    """
    labels = task_order(tasks)
    index = {task: i for i, task in enumerate(labels)}
    rows = np.array([index[task] for task in tasks], dtype=np.int64)
    columns, edges, _ = _episode_bins(steps, bins)
    return edges, labels, _shares(rows, len(labels), columns, len(edges) - 1)


def _task_colors(labels: list[str]) -> list[Any]:
    """Ordered numeric tasks get a sequential colormap (easy to hard reads as a gradient), names a
    qualitative one; "other" is grey."""
    named = [label for label in labels if label != "other"]
    numeric = all(_natural_key(label)[0] == 0 for label in named)
    cmap = matplotlib.colormaps["viridis" if numeric else "tab10" if len(named) <= 10 else "tab20"]
    if numeric:
        colors = [cmap(i / max(1, len(named) - 1)) for i in range(len(named))]
    else:
        colors = [cmap(i % cmap.N) for i in range(len(named))]
    return colors + (["lightgrey"] if len(named) < len(labels) else [])


def plot_task_distribution(run: Run, path: Path, bins: int | None = None, top_k: int = TOP_K) -> Path:
    """The run's task distribution over training; returns ``path``.

    Enumerable tasks: stacked areas of each task's share of episodes per step bin (the ``top_k``
    most frequent tasks in natural order, the rest as "other"); with more than ``top_k`` tasks, a
    second panel shows every task's share as a heatmap (one row per task). Tasks sampled from a
    continuous space (:func:`is_continuous`): a 2D histogram of task value against steps.
    """
    title = " - ".join(filter(None, [_describe(run.config), run.name]))
    many = not is_continuous(run.tasks) and len(set(run.tasks)) > top_k
    fig = Figure(figsize=(9, 8.5 if many else 5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.3)) if many else [fig.add_subplot()]
    ax = axes[0]
    ax.set_title(f"Task distribution: {title}")
    axes[-1].set_xlabel("environment steps")
    if not run.tasks:
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)
    elif is_continuous(run.tasks):
        values = np.array([float(t) for t in run.tasks])
        step_bins = bins or min(MAX_TASK_BINS, max(1, len(values) // EPISODES_PER_BIN))
        *_, image = ax.hist2d(run.episode_steps, values, bins=(step_bins, min(step_bins, 30)), cmap="viridis")
        fig.colorbar(image, ax=ax, label="episodes")
        ax.set_ylabel("task")
    else:
        centres, labels, fractions = task_frequencies(run.episode_steps, run.tasks, bins, top_k)
        colors = _task_colors(labels)
        if len(centres) == 1:  # one bin: draw it as a bar-wide band rather than a zero-width area
            centres = np.array([run.episode_steps.min(), run.episode_steps.max()])
            fractions = np.repeat(fractions, 2, axis=1)
        ax.stackplot(centres, fractions, labels=labels, colors=colors, alpha=0.9)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of episodes")
        title = f"task (top {top_k} of {len(set(run.tasks))})" if many else "task"
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title=title)
        if many:
            _plot_task_heatmap(fig, axes[1], run, bins)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _plot_task_heatmap(fig: Figure, ax: Any, run: Run, bins: int | None) -> None:
    """Every task's share of episodes per step bin, one row per task in natural order."""
    edges, labels, shares = task_shares(run.episode_steps, run.tasks, bins)
    image = ax.pcolormesh(edges, np.arange(len(labels) + 1) - 0.5, shares, cmap="magma_r")
    ticks = np.unique(np.linspace(0, len(labels) - 1, min(len(labels), 20)).round().astype(int))
    ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize="small")
    ax.set_ylabel(f"task (all {len(labels)})")
    fig.colorbar(image, ax=ax, label="share of episodes")


def plot_runs(run_dirs: list[Path], out_dir: Path | None = None) -> list[Path]:
    """Writes the learning curves of all runs on one figure and each run's task distribution.

    Args:
        run_dirs: Run directories; runs with the same config apart from ``seed`` are averaged.
        out_dir: Where the comparison ``learning_curves.png`` goes; defaults to the first run's
            ``plots/``. Each run's ``task_distribution.png`` goes to that run's ``plots/``.

    Returns:
        The PNGs written: the comparison first, then one per run.

    Raises:
        ValueError: If ``run_dirs`` is empty.
        FileNotFoundError: If a directory is not a run (the message names the missing file).
    """
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run directory")
    runs = [load_run(run_dir) for run_dir in run_dirs]
    comparison_dir = Path(out_dir) if out_dir is not None else runs[0].path / "plots"
    written = [plot_learning_curves(group_runs(runs), comparison_dir / LEARNING_CURVES_PNG)]
    written += [plot_task_distribution(run, run.path / "plots" / TASK_DISTRIBUTION_PNG) for run in runs]
    from syllabus.cli.plot_selfplay import plot_self_play_runs  # runs with opponents: win rates, opponents

    written += plot_self_play_runs([run.path for run in runs])
    return written
