"""The statistics of ``syllabus compare``, all from rliable: mean and interquartile mean (IQM) with 95%
stratified-bootstrap confidence intervals, and the probability that one group improves on another."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from syllabus.cli.compare.metrics import Metric
from syllabus.cli.run_data import Run

CONFIDENCE = 0.95


@dataclass
class Estimate:
    """Mean and IQM of one metric over one group's runs, each with its confidence interval."""

    metric: str
    group: str
    runs: int
    iqm: tuple[float, float, float]  # point, low, high
    mean: tuple[float, float, float]


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


def estimates_of(
    metrics: list[Metric], groups: dict[str, list[Run]], *, reps: int, seed: int
) -> list[Estimate]:
    """IQM and mean, with their CIs, of every metric for every group that has scores of it."""
    estimates = []
    for metric in metrics:
        for label, members in groups.items():
            scores = [metric.scores[run.path] for run in members if run.path in metric.scores]
            if scores:
                iqm, mean = estimate(np.stack(scores), reps=reps, seed=seed)
                estimates.append(Estimate(metric.name, label, len(scores), iqm, mean))  # type: ignore[arg-type]
    return estimates


def improvements_of(
    headline: Metric, groups: dict[str, list[Run]], *, reps: int, seed: int
) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """``(metric, X, Y) -> (P(X > Y), low, high)`` on ``headline`` for every ordered pair of groups with scores."""
    improvement = {}
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
    return improvement


def iqm_curve(curves: np.ndarray, *, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point of ``runs x points`` curves, the IQM over runs and its 95% stratified-bootstrap CI (rliable).

    Returns:
        The IQMs, the CIs' low and their high ends, one per point.
    """
    from scipy.stats import trim_mean

    library, _ = _rliable()

    def iqm_per_point(x: np.ndarray) -> np.ndarray:
        return trim_mean(x[:, 0, :], proportiontocut=0.25, axis=0)  # rliable's aggregate_iqm, per point

    with seeded(seed) as random_state:
        points, intervals = library.get_interval_estimates(
            {"g": curves[:, None, :]}, iqm_per_point, reps=reps, random_state=random_state
        )  # runs x 1 task x points
    return points["g"], intervals["g"][0], intervals["g"][1]
