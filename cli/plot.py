"""Plots of run directories: learning curves side by side, each run's task distribution over time,
and what each run's curriculum computed.

Reads what the runner writes in a run directory (see ``cli/run_logs.py``)::

    RUN/logs/episodes.csv    step,env_id,task,episode_return,episode_length (one row per episode)
    RUN/logs/curriculum.csv  step,metric,value (task entropy, top task probabilities, per-task statistics)
    RUN/logs/progress.csv    step,... per log interval (its last step is the run's last step)
    RUN/.hydra/config.yaml   the composed config (``curriculum.name``, ``env.name``, ``seed``, ...)
    RUN/.hydra/overrides.yaml  the command-line overrides, e.g. ``[curriculum=plr, seed=1]``
    RUN/checkpoints/*/curriculum.pkl  the curriculum's state (PLR scores, LP estimates, ...)
    RUN/eval/<checkpoint>-<mode>-seed<seed>.json, RUN/eval.json  evaluation results

and writes PNGs with matplotlib's object API (Agg canvas, no display, no pyplot global state), one
function per figure. Learning curves are drawn from every episode (a trailing mean over episodes),
not from the periodic summaries in ``logs/progress.csv``, with evaluation results marked on them.
Task distributions treat an enumerable task set (level seeds, env ids, a list of widths) as
categories; integer tasks (level seeds) keep a linear id axis; only tasks sampled from a
continuous space get a 2D histogram of value against steps.
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import yaml
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter
from syllabus.cli.runs import EVAL_DIR

from syllabus.core.checks import is_integer

EPISODES_FILE = Path("logs/episodes.csv")
CURRICULUM_FILE = Path("logs/curriculum.csv")
PROGRESS_FILE = Path("logs/progress.csv")
CONFIG_FILE = Path(".hydra/config.yaml")
OVERRIDES_FILE = Path(".hydra/overrides.yaml")
CHECKPOINTS_DIR = Path("checkpoints")
CURRICULUM_STATE = "curriculum.pkl"
LEGACY_EVAL_FILE = Path("eval.json")
EPISODES_COLUMNS = ("step", "task", "episode_return")
CURRICULUM_COLUMNS = ("step", "metric", "value")
LEARNING_CURVES_PNG = "learning_curves.png"
TASK_DISTRIBUTION_PNG = "task_distribution.png"
CURRICULUM_PNG = "curriculum.png"
SEED_KEY = "seed"
MAX_OVERRIDE_CHARS = 32  # an override in a legend label is cut to this many characters
CURVE_POINTS = 200  # points of a learning curve (fewer when the run has fewer episodes)
MAX_WINDOW = 100  # at most this many episodes in a learning curve's trailing mean
MAX_TASK_BINS = 50  # bins of a task-distribution plot
EPISODES_PER_BIN = 5  # a task-distribution bin holds this many episodes (up to MAX_TASK_BINS bins)
TOP_K = 8  # up to this many tasks get stacked bars; more get a diversity panel and a heatmap
MAX_HEATMAP_ROWS = 200  # integer task ids beyond this range share heatmap rows (equal-width id ranges)
CONTINUOUS_MIN_DISTINCT = 32  # fewer distinct float tasks than this are categories
ENTROPY = "curriculum/task_entropy"
TASK_PROB = re.compile(r"^curriculum/task_(?P<task>.+)_prob$")
EVAL_MARKERS = {"greedy": "D", "sampled": "o"}


@dataclass
class EvalResult:
    """One evaluation of a checkpoint.

    Attributes:
        checkpoint: The checkpoint's name (``final``, ``step_20480``).
        step: Environment steps of the checkpoint.
        mode: ``greedy`` or ``sampled`` actions.
        seed: Seed of the evaluation episodes.
        mean_return: Mean episode return over the evaluation episodes.
        success_rate: Share of successful episodes, when the evaluation reports one.
    """

    checkpoint: str
    step: float
    mode: str
    seed: int | None
    mean_return: float
    success_rate: float | None = None


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
        evals: The run's evaluation results, in step order.
    """

    path: Path
    config: dict[str, Any]
    overrides: list[str]
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    tasks: list[str]
    evals: list[EvalResult] = field(default_factory=list)

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
    episode_steps = _floats(episodes["step"])
    return Run(
        path=run_dir,
        config=config,
        overrides=[str(o) for o in overrides],
        episode_steps=episode_steps,
        episode_returns=_floats(episodes["episode_return"]),
        tasks=episodes["task"],
        evals=load_evals(run_dir, _last_step(run_dir, episode_steps)),
    )


def _last_step(run_dir: Path, episode_steps: np.ndarray) -> float:
    """The run's last logged step (``progress.csv``), else its last episode's end step, else 0."""
    path = run_dir / PROGRESS_FILE
    if path.is_file():
        steps = _floats(_read_csv(path, ("step",))["step"])
        if len(steps):
            return float(np.nanmax(steps))
    return float(episode_steps.max()) if len(episode_steps) else 0.0


def _checkpoint_step(checkpoint: str, last_step: float) -> float:
    """Steps of a checkpoint named by its path: ``step_<N>`` is N, ``final`` the run's last step."""
    match = re.search(r"step_(\d+)", checkpoint)
    return float(match[1]) if match else last_step


def load_evals(run_dir: Path | str, last_step: float = 0.0) -> list[EvalResult]:
    """The evaluation results of a run, in step order.

    Reads ``eval/<checkpoint>-<mode>-seed<seed>.json`` files (keys ``checkpoint``, ``step``,
    ``mode``, ``seed``, ``mean_return``, ``success_rate``) and the older single ``eval.json``
    (keys ``checkpoint``, ``deterministic``, ``seed``, ``return_mean``).

    Args:
        run_dir: The run directory.
        last_step: Steps of the ``final`` checkpoint, for results that do not record their step.

    Raises:
        ValueError: A result file is not valid JSON or lacks a needed key; the message names it.
    """
    run_dir = Path(run_dir)
    paths = sorted((run_dir / EVAL_DIR).glob("*.json"))
    results = []
    for path in paths:
        data = _read_json(path)
        try:
            results.append(
                EvalResult(
                    checkpoint=str(data["checkpoint"]),
                    step=float(data["step"]),
                    mode=str(data["mode"]),
                    seed=data.get("seed"),
                    mean_return=float(data["mean_return"]),
                    success_rate=data.get("success_rate"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not an evaluation result: {exc!r}") from exc
    legacy = run_dir / LEGACY_EVAL_FILE
    if legacy.is_file():
        data = _read_json(legacy)
        try:
            checkpoint = str(data["checkpoint"])
            results.append(
                EvalResult(
                    checkpoint=Path(checkpoint).name,
                    step=_checkpoint_step(checkpoint, last_step),
                    mode="greedy" if data.get("deterministic", True) else "sampled",
                    seed=data.get("seed"),
                    mean_return=float(data["return_mean"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{legacy} is not an evaluation result: {exc!r}") from exc
    return sorted(results, key=lambda result: (result.step, result.mode))


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; raises ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not an evaluation result object")
    return data


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
    labels = [
        ", ".join(_shorten(o) for o in group_overrides if o not in shared) for group_overrides in overrides
    ]
    if len(groups) > 1 and len(set(labels)) < len(labels):
        labels = _differing_config_labels(groups)
    for group, label in zip(groups, labels, strict=True):
        group.label = label or _describe(group.runs[0].config) or group.runs[0].name
    return groups


def _shorten(override: str, width: int = MAX_OVERRIDE_CHARS) -> str:
    """An override cut to ``width`` characters with an ellipsis (a long list stays one legend line)."""
    return override if len(override) <= width else override[: width - 1] + "\u2026"


def _differing_config_labels(groups: list[RunGroup]) -> list[str]:
    """Labels each group by the (seedless) config values that are not the same in every group."""
    flats = [_flatten(_without_seed(group.runs[0].config)) for group in groups]
    keys = sorted(set().union(*flats))
    differing = [k for k in keys if len({json.dumps(f.get(k), default=str) for f in flats}) > 1]
    return [", ".join(_shorten(f"{k}={flat.get(k)}") for k in differing) for flat in flats]


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

    Each seed's curve ([`episode_curve`][syllabus.cli.plot.episode_curve]) is interpolated onto at most ``points`` evenly spaced
    steps, from the first episode end of any seed up to the last step every seed reached; a seed
    counts only from its own first episode on.

    Args:
        group: Runs of one configuration.
        window: Episodes in the trailing mean; by default [`default_window`][syllabus.cli.plot.default_window] of the group's
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
    ([`load_evals`][syllabus.cli.plot.load_evals]) are marked at their checkpoint's step in the
    group's colour (diamonds: greedy actions, circles: sampled; the mean over seeds, with the
    spread across seeds as an error bar), the last one labelled with its success rate when known.
    The legend sits below the axes, clear of the data.

    Args:
        groups: From [`group_runs`][syllabus.cli.plot.group_runs].
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
    _steps_axis(ax)
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
    qualitative one."""
    numeric = all(_natural_key(label)[0] == 0 for label in labels)
    cmap = matplotlib.colormaps["viridis" if numeric else "tab10" if len(labels) <= 10 else "tab20"]
    if numeric:
        return [cmap(i / max(1, len(labels) - 1)) for i in range(len(labels))]
    return [cmap(i % cmap.N) for i in range(len(labels))]


def plot_task_distribution(run: Run, path: Path, bins: int | None = None, top_k: int = TOP_K) -> Path:
    """The run's task distribution over training; returns ``path``.

    Up to ``top_k`` enumerable tasks: stacked bars of each task's share of the episodes of each
    step bin (a bar spans its bin).
    More tasks (e.g. Procgen levels): two panels over the same step range, the number of tasks
    played per bin (distinct, effective and cumulative) above a heatmap of every task's share
    ([`task_heatmap`][syllabus.cli.plot.task_heatmap]; integer tasks such as level seeds on a linear
    id axis), its colour bar beside it. Tasks sampled from a continuous space
    ([`is_continuous`][syllabus.cli.plot.is_continuous]): a 2D histogram of task value against steps.

    Args:
        run: From [`load_run`][syllabus.cli.plot.load_run].
        path: The PNG to write.
        bins: Bins of equal numbers of episodes; by default one per 5 episodes, at most 50.
        top_k: Most tasks drawn as stacked bars.
    """
    title = f"Task distribution: {' - '.join(filter(None, [_describe(run.config), run.name]))}"
    continuous = is_continuous(run.tasks)
    many = bool(run.tasks) and not continuous and len(set(run.tasks)) > top_k
    fig = Figure(figsize=(9, 8 if many else 5), layout="constrained")
    fig.suptitle(title)
    if not run.tasks:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)
    elif continuous:
        ax = fig.add_subplot()
        values = np.array([float(t) for t in run.tasks])
        step_bins = bins or min(MAX_TASK_BINS, max(1, len(values) // EPISODES_PER_BIN))
        *_, image = ax.hist2d(run.episode_steps, values, bins=(step_bins, min(step_bins, 30)), cmap="viridis")
        fig.colorbar(image, ax=ax, label="episodes", pad=0.01)
        ax.set_ylabel("task")
    elif not many:
        ax = fig.add_subplot()
        edges, labels, shares = task_shares(run.episode_steps, run.tasks, bins)
        widths = np.maximum(
            np.diff(edges), (edges[-1] - edges[0]) / 500 or 1.0
        )  # a bin at one step stays visible
        bottom = np.zeros(len(widths))
        for label, share, color in zip(labels, shares, _task_colors(labels), strict=True):
            ax.bar(
                edges[:-1], share, widths, bottom=bottom, align="edge", color=color, label=label, linewidth=0
            )
            bottom += share
        ax.set_xlim(edges[0], edges[0] + widths.sum())
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of episodes")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="task")
    else:
        grid = fig.add_gridspec(2, 2, width_ratios=(1, 0.025), height_ratios=(1, 2))
        ax = fig.add_subplot(grid[0, 0])
        heat = fig.add_subplot(grid[1, 0], sharex=ax)
        heatmap = task_heatmap(run.episode_steps, run.tasks, bins)
        _plot_task_diversity(ax, run, bins)
        image = heat.pcolormesh(heatmap.step_edges, heatmap.row_edges, heatmap.shares, cmap="magma_r", vmin=0)
        fig.colorbar(image, cax=fig.add_subplot(grid[1, 1]), label="share of the bin's episodes")
        if heatmap.row_labels is not None:
            ticks = np.unique(np.linspace(0, len(heatmap.row_labels) - 1, 40).round().astype(int))
            heat.set_yticks(ticks, [heatmap.row_labels[i] for i in ticks], fontsize="small")
        heat.set_ylabel(heatmap.ylabel)
        heat.set_xlim(heatmap.step_edges[0], heatmap.step_edges[-1])
        ax.tick_params(labelbottom=False)
        ax = heat
    _steps_axis(ax)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _plot_task_diversity(ax: Any, run: Run, bins: int | None) -> None:
    """Per step bin: the distinct tasks played, the effective number of tasks (exp of the entropy
    of the bin's task shares), and the distinct tasks played so far."""
    edges, labels, shares = task_shares(run.episode_steps, run.tasks, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(shares > 0, shares * np.log(shares), 0.0).sum(axis=0)
    played = shares > 0
    ax.plot(centres, np.cumsum(played, axis=1).clip(max=1).sum(axis=0), label="played so far", color="black")
    ax.plot(centres, played.sum(axis=0), label="played in the bin", color="tab:blue")
    ax.plot(centres, np.exp(entropy), label="effective (exp entropy)", color="tab:orange")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"tasks ({len(labels)} played)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small", frameon=False)


@dataclass
class TaskHeatmap:
    """Every task's share of the episodes of each step bin, ready for ``pcolormesh``.

    Attributes:
        step_edges: Bin edges in steps (``bins + 1``).
        row_edges: Row edges on the task axis (``rows + 1``): task ids for integer tasks, else row numbers.
        shares: ``(rows, bins)`` share of each bin's episodes that played the row's task(s).
        row_labels: The task of each row when tasks are not integers, else ``None`` (the axis is the ids).
        ylabel: The task axis label.
    """

    step_edges: np.ndarray
    row_edges: np.ndarray
    shares: np.ndarray
    row_labels: list[str] | None
    ylabel: str


def task_heatmap(
    steps: np.ndarray, tasks: list[str], bins: int | None = None, max_rows: int = MAX_HEATMAP_ROWS
) -> TaskHeatmap:
    """Every task's share of episodes per bin of episodes, with integer tasks on a linear id axis.

    Integer tasks (level seeds) get one row per id from the smallest to the largest played, ids
    never played included, so the axis is linear in the id; beyond ``max_rows`` ids, each row
    covers an equal-width range of ids. Other tasks get one row each, in natural order.

    Args:
        steps: The step at which each episode ended.
        tasks: Each episode's task.
        bins: Bins of equal numbers of episodes, in step order (see [`task_shares`][syllabus.cli.plot.task_shares]).
        max_rows: Most rows of integer tasks.
    """
    columns, step_edges, _ = _episode_bins(steps, bins)
    num_bins = len(step_edges) - 1
    ids = _integer_tasks(tasks)
    if ids is None:
        labels = task_order(tasks)
        index = {task: i for i, task in enumerate(labels)}
        rows = np.array([index[task] for task in tasks], dtype=np.int64)
        shares = _shares(rows, len(labels), columns, num_bins)
        return TaskHeatmap(
            step_edges, np.arange(len(labels) + 1) - 0.5, shares, labels, f"task (all {len(labels)})"
        )
    low, high = int(ids.min()), int(ids.max())
    num_rows = min(high - low + 1, max_rows)
    row_edges = np.linspace(low - 0.5, high + 0.5, num_rows + 1)
    rows = np.clip(np.searchsorted(row_edges, ids, side="right") - 1, 0, num_rows - 1)
    per_row = (high - low + 1) / num_rows
    ylabel = "task id" if per_row == 1 else f"task id (rows of {per_row:.3g} ids)"
    return TaskHeatmap(step_edges, row_edges, _shares(rows, num_rows, columns, num_bins), None, ylabel)


def _integer_tasks(tasks: list[str]) -> np.ndarray | None:
    """The tasks as integers when every task is one (e.g. level seeds), else ``None``."""
    try:
        values = np.array([float(task) for task in tasks])
    except ValueError:
        return None
    if not len(values) or not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return None
    return values.astype(np.int64)


def load_curriculum_log(run_dir: Path | str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The run's ``logs/curriculum.csv``: each metric's steps and values (empty without the file).

    Raises:
        ValueError: The file lacks a needed column.
    """
    path = Path(run_dir) / CURRICULUM_FILE
    if not path.is_file():
        return {}
    columns = _read_csv(path, CURRICULUM_COLUMNS)
    series: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for step, metric, value in zip(columns["step"], columns["metric"], columns["value"], strict=True):
        series[metric][0].append(float(step))
        series[metric][1].append(float(value) if value != "" else math.nan)
    return {metric: (np.array(x), np.array(y)) for metric, (x, y) in series.items()}


def load_curriculum_state(run_dir: Path | str) -> dict[str, Any] | None:
    """The curriculum state of the run's last checkpoint (``final``, else the most steps), or ``None``.

    A state that cannot be read (a damaged or foreign pickle) is ``None``: the plot does without it.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    candidates = [p for p in root.glob(f"*/{CURRICULUM_STATE}")] if root.is_dir() else []
    if not candidates:
        return None

    def rank(path: Path) -> tuple[bool, float]:
        return (path.parent.name == "final", _checkpoint_step(path.parent.name, 0.0))

    try:
        with open(max(candidates, key=rank), "rb") as f:
            state = pickle.load(f)
    except Exception:
        return None
    return state if isinstance(state, dict) else None


def plot_curriculum(run: Run, path: Path) -> Path:
    """What the run's curriculum computed; returns ``path``.

    From ``logs/curriculum.csv`` over training: the entropy of the sampling distribution (against
    the uniform distribution's), and the sampling probabilities of the logged tasks (each task's
    when there are at most 10, else the most probable task's and the logged top tasks' total);
    other curriculum scalars (``stage``, ``anneal_fraction``, ...) when logged. From the last
    checkpoint's curriculum state, per task: PLR's scores and staleness, Learning Progress's
    progress and success rates, Learnability's success rates.

    Args:
        run: From [`load_run`][syllabus.cli.plot.load_run].
        path: The PNG to write.
    """
    log = load_curriculum_log(run.path)
    state = load_curriculum_state(run.path)
    per_task = per_task_state(state)
    extra = sorted(m for m in log if m.startswith("curriculum/") and m != ENTROPY and not TASK_PROB.match(m))
    rows = 2 + bool(extra) + (per_task is not None)
    fig = Figure(figsize=(9, 2.6 * rows + 0.6), layout="constrained")
    fig.suptitle(f"Curriculum: {' - '.join(filter(None, [_describe(run.config), run.name]))}")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    num_tasks = _num_tasks(state, run)
    _plot_entropy(axes[0], log, num_tasks)
    _plot_task_probabilities(axes[1], log, num_tasks)
    axes[1].sharex(axes[0])
    if extra:
        for metric in extra:
            axes[2].plot(*log[metric], label=metric.removeprefix("curriculum/"))
        axes[2].set_ylabel("value")
        axes[2].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
        axes[2].grid(alpha=0.3)
        axes[2].sharex(axes[0])
    for ax in axes[: rows - (per_task is not None)]:
        _steps_axis(ax)
    if per_task is not None:
        _plot_per_task(axes[-1], *per_task, state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _num_tasks(state: dict[str, Any] | None, run: Run) -> int | None:
    """The task space's size from the curriculum state, else ``None``."""
    space = (state or {}).get("task_space")
    num = getattr(space, "num_tasks", None)
    return int(num) if is_integer(num) else None


def _plot_entropy(ax: Any, log: dict[str, tuple[np.ndarray, np.ndarray]], num_tasks: int | None) -> None:
    """The sampling distribution's entropy over training, and the uniform distribution's."""
    if ENTROPY in log:
        ax.plot(*log[ENTROPY], color="tab:purple", label="task entropy")
    else:
        ax.text(0.5, 0.5, "no task entropy logged", ha="center", va="center", transform=ax.transAxes)
    if num_tasks:
        ax.axhline(math.log(num_tasks), color="grey", ls="--", lw=1, label=f"uniform over {num_tasks} tasks")
        ax.set_ylim(0, 1.08 * max(math.log(num_tasks), np.nanmax(log.get(ENTROPY, ([], [0.0]))[1])) or 1.0)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")


def _plot_task_probabilities(
    ax: Any, log: dict[str, tuple[np.ndarray, np.ndarray]], num_tasks: int | None
) -> None:
    """Sampling probabilities over training: one line per task (at most 10), else the top task's
    and the logged top tasks' total."""
    probs = {m[1]: log[metric] for metric in log if (m := TASK_PROB.match(metric))}
    if not probs:
        ax.text(0.5, 0.5, "no task probabilities logged", ha="center", va="center", transform=ax.transAxes)
    elif len(probs) <= 10:
        labels = task_order(probs)
        for label, color in zip(labels, _task_colors(labels), strict=True):
            ax.plot(*probs[label], color=color, marker=".", label=label)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="task")
    else:
        steps = np.unique(np.concatenate([x for x, _ in probs.values()]))
        table = np.zeros((len(probs), len(steps)))
        for row, (x, y) in enumerate(probs.values()):
            table[row, np.searchsorted(steps, x)] = y
        per_step = (table > 0).sum(axis=0).max()
        ax.plot(steps, table.max(axis=0), label="most probable task", color="tab:red")
        ax.plot(steps, table.sum(axis=0), label=f"top {per_step} tasks together", color="tab:blue")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    if num_tasks:
        ax.axhline(1 / num_tasks, color="grey", ls="--", lw=1)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("sampling probability")
    ax.grid(alpha=0.3)


def per_task_state(state: dict[str, Any] | None) -> tuple[str, dict[str, np.ndarray]] | None:
    """What a curriculum keeps per task, read from its ``state_dict()``.

    PLR: each task's score and staleness (samples since it was last sampled; NaN for tasks never
    scored or seen). Learning Progress: progress and the fast and slow success rates. Learnability:
    ``p(1 - p)`` and the success rate ``p``.

    Args:
        state: A curriculum's state, e.g. from [`load_curriculum_state`][syllabus.cli.plot.load_curriculum_state].

    Returns:
        A title and one array per quantity (one value per task), or ``None`` for other curricula.
    """
    if not state:
        return None
    plr = state.get("plr")
    if isinstance(plr, dict) and "scores" in plr:
        scores = np.where(plr["scored"], plr["scores"], np.nan)
        seen = np.zeros(len(scores), dtype=bool)
        seen[list(plr["seen"])] = True
        staleness = np.where(seen, plr["count"] - np.asarray(plr["last_sampled"]), np.nan)
        return "PLR at the last checkpoint", {"score": scores, "staleness (samples since)": staleness}
    if "lp" in state:
        return "Learning Progress at the last checkpoint", {
            "learning progress": np.asarray(state["lp"]),
            "success rate (fast)": np.asarray(state["fast"]),
            "success rate (slow)": np.asarray(state["slow"]),
        }
    if "success_rate" in state:
        rate = np.asarray(state["success_rate"])
        return "Learnability at the last checkpoint", {
            "learnability p(1-p)": rate * (1 - rate),
            "success rate": rate,
        }
    return None


def _plot_per_task(ax: Any, title: str, arrays: dict[str, np.ndarray], state: dict[str, Any] | None) -> None:
    """Per-task arrays against the task: the first on the left axis, staleness (if any) on the right."""
    tasks = list(
        getattr((state or {}).get("task_space"), "tasks", None) or range(len(next(iter(arrays.values()))))
    )
    ids = _integer_tasks([str(task) for task in tasks])
    x = ids if ids is not None else np.arange(len(tasks))
    few = len(tasks) <= 20
    right = ax.twinx() if any(name.startswith("staleness") for name in arrays) else None
    colors = iter(["tab:green", "tab:orange", "tab:blue", "tab:red"])
    for name, values in arrays.items():
        target = right if right is not None and name.startswith("staleness") else ax
        style = {"marker": "o" if few else ".", "ls": "-" if few else "none", "markersize": 5 if few else 2}
        target.plot(x, values, label=name, color=next(colors), **style)
    if ids is None or few:
        ax.set_xticks(x, [str(task) for task in tasks] if few else None)
    ax.set_xlabel("task")
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if right is not None:
        right.set_ylabel("staleness")
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(
        handles, labels, loc="center left", bbox_to_anchor=(1.08 if right else 1.0, 0.5), fontsize="small"
    )


def _steps_axis(ax: Any) -> None:
    """Labels an x axis of environment steps, with ticks such as 200k and 1.5M."""
    ax.set_xlabel("environment steps")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


def plot_runs(run_dirs: list[Path], out_dir: Path | None = None) -> list[Path]:
    """Writes the learning curves of all runs on one figure, and each run's task distribution and
    (when it logged one) curriculum plot.

    Args:
        run_dirs: Run directories; runs with the same config apart from ``seed`` are averaged.
        out_dir: Where the comparison ``learning_curves.png`` goes; defaults to the first run's
            ``plots/``. Each run's ``task_distribution.png`` goes to that run's ``plots/``.

    Returns:
        The PNGs written: the comparison first, then each run's task distribution and curriculum plot.

    Raises:
        ValueError: If ``run_dirs`` is empty.
        FileNotFoundError: If a directory is not a run (the message names the missing file).
    """
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run directory")
    runs = [load_run(run_dir) for run_dir in run_dirs]
    comparison_dir = Path(out_dir) if out_dir is not None else runs[0].path / "plots"
    written = [plot_learning_curves(group_runs(runs), comparison_dir / LEARNING_CURVES_PNG)]
    for run in runs:
        written.append(plot_task_distribution(run, run.path / "plots" / TASK_DISTRIBUTION_PNG))
        if (run.path / CURRICULUM_FILE).is_file():
            written.append(plot_curriculum(run, run.path / "plots" / CURRICULUM_PNG))
    from syllabus.cli.plot_selfplay import plot_self_play_runs  # runs with opponents: win rates, opponents

    written += plot_self_play_runs([run.path for run in runs])
    return written
