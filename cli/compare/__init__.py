"""``syllabus compare``: runs grouped by configuration, aggregated over seeds with rliable's statistics.

Reads, in each run directory ([`load_run`][syllabus.cli.run_data.load_run])::

    .hydra/config.yaml, .hydra/overrides.yaml   what the run was (groups are the configs that differ)
    logs/episodes.csv                          training episodes: learning curves, final training return
    eval/<checkpoint>-<mode>-seed<seed>.json   evaluations written by ``syllabus eval`` (latest checkpoint)

and writes ``compare.csv``, ``compare.md``, ``learning_curves.png`` and ``intervals.png``. Every
statistic comes from rliable: mean and interquartile mean (IQM) with 95% stratified-bootstrap
confidence intervals, and the probability that one group improves on another.

- [`metrics`][syllabus.cli.compare.metrics]: the groups, whether runs are comparable, what is compared;
- [`statistics`][syllabus.cli.compare.statistics]: the estimates and probabilities of improvement;
- [`report`][syllabus.cli.compare.report]: the files written and the console tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from syllabus.cli import run_data
from syllabus.cli.compare.metrics import check_comparable, group_runs, metrics_of
from syllabus.cli.compare.report import COMPARISON_FILES, print_table, table_console, write_report
from syllabus.cli.compare.statistics import Estimate, estimates_of, improvements_of
from syllabus.cli.run_data import Run

__all__ = ["COMPARISON_FILES", "Comparison", "compare", "load_run", "print_table", "table_console"]


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
    """Reads one run directory to compare (logs and evaluations may be missing)."""
    return run_data.load_run(path, episodes_required=False)


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
    metrics = metrics_of(runs)
    estimates = estimates_of(metrics, groups, reps=reps, seed=seed)
    improvement = (
        improvements_of(metrics[0], groups, reps=reps, seed=seed) if metrics and len(groups) > 1 else {}
    )
    files = write_report(out, groups, estimates, improvement, reps=reps, seed=seed)
    return Comparison(groups, estimates, improvement, files)
