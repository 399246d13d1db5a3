"""Plots of run directories: learning curves side by side, and each run's task distribution over time.

Reads what the runner writes in a run directory (see ``cli/run_logs.py``)::

    RUN/logs/progress.csv    step,time,steps_per_sec,episodes,episode_return_mean,episode_length_mean
    RUN/logs/episodes.csv    step,env_id,task,episode_return,episode_length
    RUN/.hydra/config.yaml   the composed config (``curriculum.name``, ``env.name``, ``seed``, ...)
    RUN/.hydra/overrides.yaml  the command-line overrides, e.g. ``[curriculum=plr, seed=1]``

and writes PNGs with matplotlib's object API (Agg canvas, no display, no pyplot global state).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from matplotlib.figure import Figure

PROGRESS_FILE = Path("logs/progress.csv")
EPISODES_FILE = Path("logs/episodes.csv")
CONFIG_FILE = Path(".hydra/config.yaml")
OVERRIDES_FILE = Path(".hydra/overrides.yaml")
PROGRESS_COLUMNS = ("step", "episode_return_mean")
EPISODES_COLUMNS = ("step", "task")
LEARNING_CURVES_PNG = "learning_curves.png"
TASK_DISTRIBUTION_PNG = "task_distribution.png"
SEED_KEY = "seed"


@dataclass
class Run:
    """The logs and config of one run directory.

    Attributes:
        path: The run directory.
        config: The composed Hydra config.
        overrides: The command-line overrides (``key=value`` strings).
        steps: Env steps of each progress row.
        returns: The logged mean episode return of each progress row (NaN before the first episode).
        episode_steps: Env steps at which each episode ended.
        tasks: Each episode's task as written in the CSV.
    """

    path: Path
    config: dict[str, Any]
    overrides: list[str]
    steps: np.ndarray
    returns: np.ndarray
    episode_steps: np.ndarray
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
        ValueError: If a log file lacks a needed column.
    """
    run_dir = Path(run_dir)
    for name in (CONFIG_FILE, PROGRESS_FILE, EPISODES_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir} is not a Syllabus run directory: {run_dir / name} is missing")
    config = yaml.safe_load((run_dir / CONFIG_FILE).read_text()) or {}
    overrides_path = run_dir / OVERRIDES_FILE
    overrides = (yaml.safe_load(overrides_path.read_text()) or []) if overrides_path.is_file() else []
    progress = _read_csv(run_dir / PROGRESS_FILE, PROGRESS_COLUMNS)
    episodes = _read_csv(run_dir / EPISODES_FILE, EPISODES_COLUMNS)
    return Run(
        path=run_dir,
        config=config,
        overrides=[str(o) for o in overrides],
        steps=_floats(progress["step"]),
        returns=_floats(progress["episode_return_mean"]),
        episode_steps=_floats(episodes["step"]),
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


def group_curve(group: RunGroup, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation across the group's seeds of the smoothed return curve.

    Each seed's curve is interpolated onto the steps of the first seed, up to the fewest steps any
    seed reached. Steps before a seed's first episode are NaN.
    """
    curves = []
    for run in group.runs:
        valid = ~np.isnan(run.returns)
        curves.append((run.steps[valid], smooth(run.returns[valid], window)))
    curves = [(x, y) for x, y in curves if len(x)]
    if not curves:
        return np.empty(0), np.empty(0), np.empty(0)
    last = min(x[-1] for x, _ in curves)
    grid = curves[0][0][curves[0][0] <= last]
    stacked = np.array([np.interp(grid, x, y, left=np.nan) for x, y in curves])
    return grid, np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


def plot_learning_curves(groups: list[RunGroup], path: Path, window: int = 5) -> Path:
    """One line per group (mean over seeds, band of one standard deviation); returns ``path``.

    Args:
        groups: From :func:`group_runs`.
        path: The PNG to write.
        window: Log intervals of the extra trailing-mean smoothing of the logged mean return.
    """
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for group in groups:
        steps, mean, std = group_curve(group, window)
        seeds = len(group.runs)
        label = f"{group.label} ({seeds} seed{'s' if seeds > 1 else ''})"
        if len(steps) == 0:
            ax.plot([], [], label=f"{label}: no episodes yet")
            continue
        (line,) = ax.plot(steps, mean, label=label)
        if seeds > 1:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return (mean of last 100 episodes)")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def is_continuous(tasks: list[str]) -> bool:
    """Whether every task parses as a float (scalar Box tasks); otherwise tasks are categorical."""
    try:
        for task in tasks:
            float(task)
    except ValueError:
        return False
    return bool(tasks)


def task_frequencies(
    steps: np.ndarray, tasks: list[str], bins: int = 50, top_k: int = 8
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per step bin, the fraction of episodes of each of the ``top_k`` most frequent tasks and of the rest.

    Returns:
        Bin centres, the task labels (``"other"`` last when there are more than ``top_k`` tasks), and
        an array ``(labels, bins)`` of fractions (each bin's column sums to 1, or 0 for empty bins).
    """
    counts = Counter(tasks)
    top = [task for task, _ in counts.most_common(top_k)]
    labels = top + (["other"] if len(counts) > top_k else [])
    index = {task: i for i, task in enumerate(top)}
    rows = np.array([index.get(task, len(top)) for task in tasks])
    edges = np.linspace(steps.min(), steps.max(), bins + 1) if len(steps) else np.linspace(0, 1, bins + 1)
    if edges[0] == edges[-1]:
        edges = np.linspace(edges[0] - 0.5, edges[0] + 0.5, bins + 1)
    columns = np.clip(np.digitize(steps, edges[1:-1]), 0, bins - 1)
    hist = np.zeros((len(labels), bins))
    np.add.at(hist, (rows, columns), 1)
    totals = hist.sum(axis=0)
    fractions = np.divide(hist, totals, out=np.zeros_like(hist), where=totals > 0)
    return (edges[:-1] + edges[1:]) / 2, labels, fractions


def plot_task_distribution(run: Run, path: Path, bins: int = 50, top_k: int = 8) -> Path:
    """The run's task distribution over training; returns ``path``.

    Categorical tasks: stacked areas of each task's share of episodes per step bin (the ``top_k``
    most frequent tasks, the rest as "other"). Continuous tasks: a 2D histogram of task vs step.
    """
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    title = " - ".join(filter(None, [_describe(run.config), run.name]))
    ax.set_title(f"Task distribution: {title}")
    ax.set_xlabel("environment steps")
    if not run.tasks:
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)
    elif is_continuous(run.tasks):
        values = np.array([float(t) for t in run.tasks])
        task_bins = max(1, min(bins, len(np.unique(values))))
        *_, image = ax.hist2d(run.episode_steps, values, bins=(bins, task_bins), cmap="viridis")
        fig.colorbar(image, ax=ax, label="episodes")
        ax.set_ylabel("task")
    else:
        centres, labels, fractions = task_frequencies(run.episode_steps, run.tasks, bins, top_k)
        ax.stackplot(centres, fractions, labels=labels, alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of episodes")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="task")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


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
    return written
