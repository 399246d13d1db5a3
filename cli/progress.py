"""Showing a run's progress: a rich progress bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

logger = logging.getLogger("syllabus.train")

_BAR_REFRESH_SECONDS = 0.25


def _fmt_return(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


class LogLines:
    """Log lines for a log reader: one when training starts, then one per log interval (env steps)
    and one whenever ``log_seconds`` of wall time passed without a line, so a slow run is never silent
    for long. Hydra also copies them into the run's ``train.log``.

    Args:
        total: The run's step budget.
        initial: Steps done before this session (resumed runs).
        log_seconds: The longest time between two lines while training runs.
    """

    def __init__(self, total: int, initial: int, log_seconds: float = 30.0) -> None:
        self.total = total
        self._log_seconds = log_seconds
        self._last_time = time.monotonic()
        self._last_steps = initial
        logger.info(
            "training from step %d to %d; a progress line every %g s or log interval",
            initial,
            total,
            log_seconds,
        )

    def update(self, steps: int, mean_return: float) -> None:
        """Called on every step: a line when ``log_seconds`` passed since the last one."""
        now = time.monotonic()
        if now - self._last_time >= self._log_seconds:
            self.interval(steps, (steps - self._last_steps) / (now - self._last_time), mean_return)

    def interval(self, steps: int, steps_per_sec: float, mean_return: float) -> None:
        """One line: steps, percent, steps/s, mean return, ETA."""
        self._last_time, self._last_steps = time.monotonic(), steps
        remaining = max(self.total - steps, 0)
        eta = remaining / steps_per_sec if steps_per_sec > 0 else float("nan")
        logger.info(
            "step %d/%d (%.0f%%) | %.0f steps/s | return %s | eta %s",
            steps,
            self.total,
            100.0 * steps / self.total,
            steps_per_sec,
            _fmt_return(mean_return),
            "-" if math.isnan(eta) else f"{eta:.0f}s",
        )

    def close(self) -> None:
        """Nothing to release."""


class ProgressBar:
    """A rich progress bar with steps, steps/s, mean return and ETA, redrawn at most 4 times a second."""

    def __init__(self, total: int, initial: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[sps]} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            refresh_per_second=4,
        )
        self._task = self._progress.add_task("train", total=total, completed=initial, sps="-", ret="-")
        self._progress.start()
        self._last = 0.0

    def update(self, steps: int, mean_return: float) -> None:
        """Moves the bar; cheap enough to call on every step."""
        now = time.monotonic()
        if now - self._last >= _BAR_REFRESH_SECONDS:
            self._last = now
            self._progress.update(self._task, completed=steps, ret=_fmt_return(mean_return))

    def interval(self, steps: int, steps_per_sec: float, mean_return: float) -> None:
        """Updates steps/s (measured over the last log interval)."""
        self._progress.update(
            self._task, completed=steps, sps=f"{steps_per_sec:.0f}", ret=_fmt_return(mean_return)
        )

    def close(self) -> None:
        """Stops redrawing; the last state stays on screen."""
        self._progress.stop()


def make_display(mode: str, *, multirun: bool, total: int, initial: int, log_seconds: float = 30.0) -> Any:
    """A [`ProgressBar`][syllabus.cli.progress.ProgressBar] for ``mode=bar``, or ``auto`` on a terminal
    outside multiruns; else [`LogLines`][syllabus.cli.progress.LogLines] (a line at least every
    ``log_seconds``)."""
    bar = mode == "bar" or (mode == "auto" and not multirun and sys.stdout.isatty())
    return ProgressBar(total, initial) if bar else LogLines(total, initial, log_seconds)
