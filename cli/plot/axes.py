"""What the figures of ``syllabus plot`` share: the environment-steps axis, the natural order of tasks
and their colours, integer task ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import matplotlib
import numpy as np
from matplotlib.ticker import EngFormatter


def steps_axis(ax: Any) -> None:
    """Labels an x axis of environment steps, with ticks such as 200k and 1.5M."""
    ax.set_xlabel("environment steps")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


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


def task_colors(labels: list[str]) -> list[Any]:
    """Ordered numeric tasks get a sequential colormap (easy to hard reads as a gradient), names a
    qualitative one."""
    numeric = all(_natural_key(label)[0] == 0 for label in labels)
    cmap = matplotlib.colormaps["viridis" if numeric else "tab10" if len(labels) <= 10 else "tab20"]
    if numeric:
        return [cmap(i / max(1, len(labels) - 1)) for i in range(len(labels))]
    return [cmap(i % cmap.N) for i in range(len(labels))]


def integer_tasks(tasks: list[str]) -> np.ndarray | None:
    """The tasks as integers when every task is one (e.g. level seeds), else ``None``."""
    try:
        values = np.array([float(task) for task in tasks])
    except ValueError:
        return None
    if not len(values) or not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return None
    return values.astype(np.int64)
