"""What a run's curriculum computed: from ``logs/curriculum.csv`` the sampling distribution's entropy, the
task probabilities and other curriculum scalars over training; from the last checkpoint's curriculum
state, what PLR, Learning Progress or Learnability keep per task."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from syllabus.cli.plot.axes import integer_tasks, steps_axis, task_colors, task_order
from syllabus.cli.run_data import Run, describe, load_curriculum_log, load_curriculum_state

from syllabus.core.checks import is_integer

CURRICULUM_PNG = "curriculum.png"
ENTROPY = "curriculum/task_entropy"
TASK_PROB = re.compile(r"^curriculum/task_(?P<task>.+)_prob$")


def plot_curriculum(run: Run, path: Path) -> Path:
    """What the run's curriculum computed; returns ``path``.

    From ``logs/curriculum.csv`` over training: the entropy of the sampling distribution (against
    the uniform distribution's), and the sampling probabilities of the logged tasks (each task's
    when there are at most 10, else the most probable task's and the logged top tasks' total);
    other curriculum scalars (``stage``, ``anneal_fraction``, ...) when logged. From the last
    checkpoint's curriculum state, per task: PLR's scores and staleness, Learning Progress's
    progress and success rates, Learnability's success rates.

    Args:
        run: From [`load_run`][syllabus.cli.run_data.load_run].
        path: The PNG to write.
    """
    log = load_curriculum_log(run.path)
    state = load_curriculum_state(run.path)
    per_task = per_task_state(state)
    extra = sorted(m for m in log if m.startswith("curriculum/") and m != ENTROPY and not TASK_PROB.match(m))
    rows = 2 + bool(extra) + (per_task is not None)
    fig = Figure(figsize=(9, 2.6 * rows + 0.6), layout="constrained")
    fig.suptitle(f"Curriculum: {' - '.join(filter(None, [describe(run.config), run.name]))}")
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
        steps_axis(ax)
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
        for label, color in zip(labels, task_colors(labels), strict=True):
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
        state: A curriculum's state, e.g. from [`load_curriculum_state`][syllabus.cli.run_data.load_curriculum_state].

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
    ids = integer_tasks([str(task) for task in tasks])
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
