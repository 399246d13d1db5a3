"""``syllabus compare``: runs grouped by configuration, aggregated over seeds with rliable's statistics.

Reads, in each run directory::

    .hydra/config.yaml, .hydra/overrides.yaml   what the run was (groups are the configs that differ)
    logs/episodes.csv                          training episodes: learning curves, final training return
    eval/<checkpoint>-<mode>-seed<seed>.json   evaluations written by ``syllabus eval`` (latest checkpoint)

and writes ``compare.csv``, ``compare.md``, ``learning_curves.png`` and ``intervals.png``. Every
statistic comes from rliable: mean and interquartile mean (IQM) with 95% stratified-bootstrap
confidence intervals, and the probability that one group improves on another.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from syllabus.cli.errors import UserError
from syllabus.cli.runs import EVAL_MODES, eval_files

SEED_KEY = "seed"
FINAL_FRACTION = 0.1  # the training return of a run: the mean over its last tenth of episodes
CURVE_POINTS = 40
CURVE_WINDOW = 0.1  # a curve point: the mean return of episodes in the last tenth of the steps
CONFIDENCE = 0.95
COMPARISON_FILES = ("compare.csv", "compare.md", "learning_curves.png", "intervals.png")
_IDENTITY_KEYS = (
    "env.name",
    "env.game",
    "env.distribution_mode",
)  # runs with different values are not compared


@dataclass
class Run:
    """What ``compare`` reads from one run directory.

    Attributes:
        path: The run directory.
        config: The composed config, flattened to ``dotted.key -> value``.
        overrides: The command-line overrides (``key=value`` strings).
        steps: Env steps at which each training episode ended, in order.
        returns: Each training episode's return.
        evals: Per mode, the evaluation of the latest evaluated checkpoint (eval seeds averaged): ``step``,
            ``tasks`` (task -> ``mean_return``, ``success_rate``).
    """

    path: Path
    config: dict[str, Any]
    overrides: list[str]
    steps: np.ndarray
    returns: np.ndarray
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def success_threshold(self) -> float | None:
        value = self.config.get("env.success_threshold")
        return None if value is None else float(value)


@dataclass
class Metric:
    """One compared quantity: a name and, per run, a vector of per-task scores (``None``: not measured)."""

    name: str
    scores: dict[Path, np.ndarray]


@dataclass
class Estimate:
    """Mean and IQM of one metric over one group's runs, each with its confidence interval."""

    metric: str
    group: str
    runs: int
    iqm: tuple[float, float, float]  # point, low, high
    mean: tuple[float, float, float]


@dataclass
class Comparison:
    """The result of [`compare`][syllabus.cli.compare.compare].

    Attributes:
        groups: Group label -> its runs.
        estimates: One per metric and group.
        improvement: ``(metric, X, Y) -> (P(X > Y), low, high)`` for the headline metric.
        files: What was written.
    """

    groups: dict[str, list[Run]]
    estimates: list[Estimate]
    improvement: dict[tuple[str, str, str], tuple[float, float, float]]
    files: list[Path]


def load_run(path: Path) -> Run:
    """Reads one run directory (logs and evaluations may be missing)."""
    config = OmegaConf.to_container(OmegaConf.load(path / ".hydra" / "config.yaml"), resolve=False)
    overrides_file = path / ".hydra" / "overrides.yaml"
    overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
    steps, returns = _read_episodes(path / "logs" / "episodes.csv")
    return Run(path, _flatten(config), overrides, steps, returns, _read_evals(path))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.dumps(value) if isinstance(value, list) else value}


def _read_episodes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    steps = np.array([float(r["step"]) for r in rows])
    returns = np.array([float(r["episode_return"]) for r in rows])
    order = np.argsort(steps, kind="stable")
    return steps[order], returns[order]


def _read_evals(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per mode, the evaluations of the checkpoint with the most steps, averaged over evaluation seeds (those
    on the largest task set, when some evaluations played fewer tasks)."""
    evals: dict[str, dict[str, Any]] = {}
    for mode in EVAL_MODES:
        results = [json.loads(p.read_text()) for p in eval_files(run_dir, mode)]
        if not results:
            continue
        step = max(r["step"] for r in results)
        latest = sorted((r for r in results if r["step"] == step), key=lambda r: -len(r["tasks"]))
        latest = [
            r for r in latest if set(r["tasks"]) == set(latest[0]["tasks"])
        ]  # e.g. a --max-tasks eval left out
        tasks = {
            task: {
                key: _mean([r["tasks"][task][key] for r in latest]) for key in ("mean_return", "success_rate")
            }
            for task in latest[0]["tasks"]
        }
        evals[mode] = {"step": step, "tasks": tasks, "seeds": len(latest)}
    return evals


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))  # type: ignore[arg-type]


def group_runs(runs: list[Run], by: list[str] | None = None) -> dict[str, list[Run]]:
    """Groups runs by the config values that differ between them (``seed`` aside), or by the keys ``by``.

    A group's label is its overrides that not every run shares (e.g. ``curriculum=plr``), else the
    config values that tell it apart.

    Raises:
        UserError: A key of ``by`` is in no run's config.
    """
    if by:
        missing = [key for key in by if not any(key in run.config for run in runs)]
        if missing:
            raise UserError(
                f"--by {missing[0]}: no run has that config key (e.g. curriculum.name, env.name, seed)"
            )
        keys = by
    else:
        all_keys = sorted({key for run in runs for key in run.config} - {SEED_KEY})
        keys = [key for key in all_keys if len({repr(run.config.get(key)) for run in runs}) > 1]
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(repr(run.config.get(key)) for key in keys), []).append(run)
    shared = set.intersection(*(set(run.overrides) for run in runs))
    labels: dict[str, list[Run]] = {}
    for members in groups.values():
        label = _label(members[0], keys, shared, by=bool(by))
        labels[label if label not in labels else f"{label} ({members[0].path.name})"] = members
    return labels


def _label(run: Run, keys: list[str], shared: set[str], *, by: bool) -> str:
    if not by:
        own = [o for o in run.overrides if o not in shared and o.split("=")[0].lstrip("+~") != SEED_KEY]
        own = [o for o in own if not o.startswith("hydra.")]
        if own:
            return " ".join(own)
    if not keys:
        return "all runs"
    shown = [f"{key}={run.config.get(key)}" for key in keys[:3]]
    return " ".join(shown) + (" ..." if len(keys) > 3 else "")


def check_comparable(runs: list[Run]) -> None:
    """Refuses runs of different environments or evaluation task sets.

    Raises:
        UserError: Naming the differing value and the runs that have it.
    """
    for key in _IDENTITY_KEYS:
        values: dict[str, list[Path]] = {}
        for run in runs:
            values.setdefault(str(run.config.get(key)), []).append(run.path)
        if len(values) > 1:
            seen = "; ".join(
                f"{value} ({len(paths)} runs, e.g. {paths[0]})" for value, paths in values.items()
            )
            raise UserError(f"runs of different tasks cannot be compared: {key} is {seen}")
    for mode in EVAL_MODES:
        task_sets: dict[tuple[str, ...], Path] = {}
        for run in runs:
            if mode in run.evals:
                task_sets.setdefault(tuple(sorted(run.evals[mode]["tasks"])), run.path)
        if len(task_sets) > 1:
            (a, first), (b, second) = list(task_sets.items())[:2]
            raise UserError(
                f"runs were evaluated on different task sets ({mode}): {first} on {len(a)} tasks, {second} on "
                f"{len(b)}; evaluate them alike with syllabus eval"
            )


def metrics_of(runs: list[Run]) -> list[Metric]:
    """The metrics that at least one run has: final evaluation return and success per mode (one score per
    evaluation task), and training return and success (mean over the last tenth of training episodes)."""
    out = []
    for mode in EVAL_MODES:
        for key, name in (("mean_return", "return"), ("success_rate", "success")):
            scores = {}
            for run in runs:
                if mode in run.evals:
                    values = [task[key] for _, task in sorted(run.evals[mode]["tasks"].items())]
                    if None not in values:
                        scores[run.path] = np.array(values, dtype=float)
            out.append(Metric(f"eval {mode} {name}", scores))
    train_return, train_success = {}, {}
    for run in runs:
        if run.returns.size:
            final = run.returns[-max(1, int(len(run.returns) * FINAL_FRACTION)) :]
            train_return[run.path] = np.array([final.mean()])
            if run.success_threshold is not None:
                train_success[run.path] = np.array([(final >= run.success_threshold).mean()])
    out += [Metric("train return", train_return), Metric("train success", train_success)]
    return [metric for metric in out if metric.scores]


@contextmanager
def seeded(seed: int) -> Iterator[np.random.RandomState]:
    """A ``RandomState`` for rliable's ``random_state``, with numpy's global generator seeded alike for the
    block (rliable's stratified bootstrap draws its indices from the global one) and restored after it."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield np.random.RandomState(seed)
    finally:
        np.random.set_state(saved)


def _rliable() -> tuple[Any, Any]:
    """rliable's ``library`` and ``metrics`` modules; its bootstrap passes a ``random_state`` that arch
    deprecates (same numbers), so that warning is not shown."""
    warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
    from rliable import library, metrics

    return library, metrics


def estimate(scores: np.ndarray, *, reps: int, seed: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """IQM and mean of a ``runs x tasks`` score matrix with 95% stratified-bootstrap CIs (rliable).

    Returns:
        ``(iqm, low, high)`` and ``(mean, low, high)``.
    """
    library, metrics = _rliable()

    def func(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    with seeded(seed) as random_state:
        points, intervals = library.get_interval_estimates(
            {"g": scores},
            func,
            reps=reps,
            confidence_interval_size=CONFIDENCE,
            random_state=random_state,
        )
    point, (low, high) = points["g"], intervals["g"]
    return (
        (float(point[0]), float(low[0]), float(high[0])),
        (float(point[1]), float(low[1]), float(high[1])),
    )


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, *, reps: int, seed: int
) -> tuple[float, float, float]:
    """P(a run of X scores higher than a run of Y), averaged over tasks, with its 95% CI (rliable)."""
    library, metrics = _rliable()

    with seeded(seed) as random_state:
        points, intervals = library.get_interval_estimates(
            {"xy": (x, y)},
            lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
            reps=reps,
            confidence_interval_size=CONFIDENCE,
            random_state=random_state,
        )
    return float(points["xy"][0]), float(intervals["xy"][0][0]), float(intervals["xy"][1][0])


def compare(
    runs: list[Run], out: Path, *, by: list[str] | None = None, reps: int = 2000, seed: int = 0
) -> Comparison:
    """Groups ``runs``, estimates every metric per group, and writes the table and plots into ``out``.

    Args:
        runs: Runs of one environment and evaluation task set.
        out: Directory of ``compare.csv``, ``compare.md``, ``learning_curves.png``, ``intervals.png``.
        by: Config keys to group by (default: every key whose value differs, ``seed`` aside).
        reps: Bootstrap replications.
        seed: Seed of the bootstrap (each estimate starts from it, so results do not depend on order).

    Returns:
        The groups, estimates and probabilities of improvement, and the files written.

    Raises:
        UserError: The runs are not comparable, or ``by`` names no config key.
    """
    check_comparable(runs)
    groups = group_runs(runs, by)
    estimates = []
    metric_list = metrics_of(runs)
    for metric in metric_list:
        for label, members in groups.items():
            scores = [metric.scores[run.path] for run in members if run.path in metric.scores]
            if scores:
                iqm, mean = estimate(np.stack(scores), reps=reps, seed=seed)
                estimates.append(Estimate(metric.name, label, len(scores), iqm, mean))  # type: ignore[arg-type]
    improvement = {}
    if metric_list and len(groups) > 1:
        headline = metric_list[0]
        labels = list(groups)
        for i, x_label in enumerate(labels):
            for y_label in labels[i + 1 :]:
                x = [headline.scores[r.path] for r in groups[x_label] if r.path in headline.scores]
                y = [headline.scores[r.path] for r in groups[y_label] if r.path in headline.scores]
                if x and y:
                    p, low, high = probability_of_improvement(np.stack(x), np.stack(y), reps=reps, seed=seed)
                    improvement[(headline.name, x_label, y_label)] = (p, low, high)
                    # Ties count one half, so P(Y > X) = 1 - P(X > Y), on every bootstrap sample too.
                    improvement[(headline.name, y_label, x_label)] = (1 - p, 1 - high, 1 - low)
    out.mkdir(parents=True, exist_ok=True)
    files = [
        _write_csv(out / COMPARISON_FILES[0], estimates),
        _write_markdown(out / COMPARISON_FILES[1], groups, estimates, improvement),
    ]
    files.append(plot_learning_curves(groups, out / COMPARISON_FILES[2], reps=reps, seed=seed))
    if estimates:
        files.append(plot_intervals(estimates, out / COMPARISON_FILES[3]))
    return Comparison(groups, estimates, improvement, files)


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
    ends = [run.steps[-1] for members in groups.values() for run in members if run.steps.size]
    return np.linspace(0, min(ends), CURVE_POINTS + 1)[1:] if ends else np.zeros(0)


def run_curve(run: Run, grid: np.ndarray) -> np.ndarray:
    """The run's mean episode return in the window of steps (a tenth of the grid) ending at each grid point (the last value
    carried forward through windows without an episode; NaN before the first episode)."""
    width = max(grid[0], grid[-1] * CURVE_WINDOW) if grid.size else 0.0
    values, last = np.full(grid.shape, np.nan), np.nan
    for i, end in enumerate(grid):
        window = run.returns[(run.steps > end - width) & (run.steps <= end)]
        last = float(window.mean()) if window.size else last
        values[i] = last
    return values


def plot_learning_curves(groups: dict[str, list[Run]], path: Path, *, reps: int, seed: int) -> Path:
    """Training return against env steps: each group's IQM over runs with a 95% CI band."""
    from matplotlib.figure import Figure
    from scipy.stats import trim_mean

    library, _ = _rliable()
    grid = _curve_grid(groups)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for color, (label, members) in zip(_colors(len(groups)), groups.items(), strict=True):
        curves = np.stack([run_curve(run, grid) for run in members if run.steps.size]) if grid.size else None
        if curves is None or not curves.size:
            continue
        valid = ~np.isnan(curves).any(axis=0)
        scores = curves[:, valid][:, None, :]  # runs x 1 task x points

        def iqm_per_point(x: np.ndarray) -> np.ndarray:
            return trim_mean(x[:, 0, :], proportiontocut=0.25, axis=0)  # rliable's aggregate_iqm, per point

        with seeded(seed) as random_state:
            points, intervals = library.get_interval_estimates(
                {"g": scores}, iqm_per_point, reps=reps, random_state=random_state
            )
        ax.plot(grid[valid], points["g"], color=color, label=f"{label} ({len(curves)} runs)")
        ax.fill_between(
            grid[valid], intervals["g"][0], intervals["g"][1], color=color, alpha=0.2, linewidth=0
        )
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
