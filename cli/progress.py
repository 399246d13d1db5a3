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
    """Writes one log line per log interval (Hydra also copies it into the run's ``train.log``)."""

    def __init__(self, total: int, initial: int) -> None:
        self.total = total
        self._start = time.monotonic()
        self._initial = initial

    def update(self, steps: int, mean_return: float) -> None:
        """Called on every step; log lines only appear at intervals."""

    def interval(self, steps: int, steps_per_sec: float, mean_return: float) -> None:
        """One line: steps, percent, steps/s, mean return, ETA."""
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


def make_display(mode: str, *, multirun: bool, total: int, initial: int) -> Any:
    """A [`ProgressBar`][syllabus.cli.progress.ProgressBar] for ``mode=bar``, or ``auto`` on a terminal outside multiruns; else [`LogLines`][syllabus.cli.progress.LogLines]."""
    bar = mode == "bar" or (mode == "auto" and not multirun and sys.stdout.isatty())
    return ProgressBar(total, initial) if bar else LogLines(total, initial)
