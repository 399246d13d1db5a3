"""Each run's task distribution over training: stacked shares of a few tasks, a diversity panel and a
heatmap of many (integer tasks such as level seeds on a linear id axis), a 2D histogram of tasks
sampled from a continuous space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from syllabus.cli.plot.axes import integer_tasks, steps_axis, task_colors, task_order
from syllabus.cli.run_data import Run, describe

TASK_DISTRIBUTION_PNG = "task_distribution.png"
MAX_TASK_BINS = 50  # bins of a task-distribution plot
EPISODES_PER_BIN = 5  # a task-distribution bin holds this many episodes (up to MAX_TASK_BINS bins)
TOP_K = 8  # up to this many tasks get stacked bars; more get a diversity panel and a heatmap
MAX_HEATMAP_ROWS = 200  # integer task ids beyond this range share heatmap rows (equal-width id ranges)
CONTINUOUS_MIN_DISTINCT = 32  # fewer distinct float tasks than this are categories


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


def plot_task_distribution(run: Run, path: Path, bins: int | None = None, top_k: int = TOP_K) -> Path:
    """The run's task distribution over training; returns ``path``.

    Up to ``top_k`` enumerable tasks: stacked bars of each task's share of the episodes of each
    step bin (a bar spans its bin).
    More tasks (e.g. Procgen levels): two panels over the same step range, the number of tasks
    played per bin (distinct, effective and cumulative) above a heatmap of every task's share
    ([`task_heatmap`][syllabus.cli.plot.task_distribution.task_heatmap]; integer tasks such as level seeds on a linear
    id axis), its colour bar beside it. Tasks sampled from a continuous space
    ([`is_continuous`][syllabus.cli.plot.task_distribution.is_continuous]): a 2D histogram of task value against steps.

    Args:
        run: From [`load_run`][syllabus.cli.run_data.load_run].
        path: The PNG to write.
        bins: Bins of equal numbers of episodes; by default one per 5 episodes, at most 50.
        top_k: Most tasks drawn as stacked bars.
    """
    title = f"Task distribution: {' - '.join(filter(None, [describe(run.config), run.name]))}"
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
        for label, share, color in zip(labels, shares, task_colors(labels), strict=True):
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
    steps_axis(ax)
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
        bins: Bins of equal numbers of episodes, in step order (see [`task_shares`][syllabus.cli.plot.task_distribution.task_shares]).
        max_rows: Most rows of integer tasks.
    """
    columns, step_edges, _ = _episode_bins(steps, bins)
    num_bins = len(step_edges) - 1
    ids = integer_tasks(tasks)
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
