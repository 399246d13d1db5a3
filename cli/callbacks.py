"""The run's learner-neutral callback: episode and interval logs, progress, interval checkpoints, stop requests.

Every learner drives the same few methods ([`RunCallback`][syllabus.cli.callbacks.RunCallback]); the
SB3 learner through an adapter ([`syllabus.cli.learners.sb3_callbacks`][syllabus.cli.learners.sb3_callbacks]),
the RLlib learner directly between ``algo.train()`` iterations.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from syllabus.cli.run_logs import RunLogs

RECENT_EPISODES = 100


class RunCallback:
    """Logs every finished episode with its task, a progress row per log interval, and stops on request.

    A learner calls [`begin`][syllabus.cli.callbacks.RunCallback.begin] once, then, as it trains,
    [`record_episode`][syllabus.cli.callbacks.RunCallback.record_episode] for each finished episode,
    [`advance`][syllabus.cli.callbacks.RunCallback.advance] with its step count (it stops when that
    returns ``False``) and [`checkpoint_if_due`][syllabus.cli.callbacks.RunCallback.checkpoint_if_due]
    wherever its model state is consistent (between rollouts).

    Args:
        logs: Where rows go.
        display: A progress display ([`syllabus.cli.progress`][syllabus.cli.progress]).
        curriculum: The learner-side curriculum whose metrics are logged (``None`` without one).
        log_interval: Env steps between progress rows.
        checkpoint_interval: Env steps between checkpoints (0: none during training).
        save_checkpoint: Called with the step count to write ``checkpoints/step_<N>``.
        stop: Set to stop training at the next step (Ctrl-C).
        episodes: Episodes finished before this session (resumed runs).
        elapsed: Training seconds before this session (resumed runs).
        max_tasks: Tasks listed in curriculum metrics.
    """

    def __init__(
        self,
        logs: RunLogs,
        display: Any,
        curriculum: Any,
        *,
        log_interval: int,
        checkpoint_interval: int,
        save_checkpoint: Callable[[int], object],
        stop: threading.Event,
        episodes: int = 0,
        elapsed: float = 0.0,
        max_tasks: int = 10,
    ) -> None:
        self.logs = logs
        self.display = display
        self.curriculum = curriculum
        self.log_interval = log_interval
        self.checkpoint_interval = checkpoint_interval
        self._save_checkpoint = save_checkpoint
        self.stop = stop
        self.episodes = episodes
        self._elapsed_before = elapsed
        self._max_tasks = max_tasks
        self._returns: deque[float] = deque(maxlen=RECENT_EPISODES)
        self._lengths: deque[int] = deque(maxlen=RECENT_EPISODES)
        self._start = time.monotonic()
        self._last_time = self._start
        self._last_steps = 0
        self._next_log = 0
        self._next_checkpoint = 0
        self._last_logged = -1
        self.num_timesteps = 0

    @property
    def elapsed(self) -> float:
        """Training seconds, including those before a resume."""
        return self._elapsed_before + time.monotonic() - self._start

    def _next_multiple(self, interval: int) -> int:
        return (self.num_timesteps // interval + 1) * interval

    def begin(self, steps: int) -> None:
        """Starts timing and the log and checkpoint schedules at ``steps`` (the first step of this session)."""
        self.num_timesteps = steps
        self._start = self._last_time = time.monotonic()
        self._last_steps = steps
        self._next_log = self._next_multiple(self.log_interval)
        if self.checkpoint_interval:
            self._next_checkpoint = self._next_multiple(self.checkpoint_interval)

    def record_episode(self, step: int, env_id: int, task: Any, episode_return: float, length: int) -> None:
        """Counts and logs one episode that finished by env step ``step`` in env ``env_id``."""
        self.episodes += 1
        self._returns.append(float(episode_return))
        self._lengths.append(int(length))
        self.logs.episode(step, env_id, task, episode_return, length)

    def advance(self, steps: int) -> bool:
        """Moves the progress display to ``steps``, logs a row when one is due; ``False`` asks to stop."""
        self.num_timesteps = steps
        self.display.update(steps, self.mean_return)
        if steps >= self._next_log:
            self.log_interval_row()
            self._next_log = self._next_multiple(self.log_interval)
        return not self.stop.is_set()

    def checkpoint_if_due(self) -> None:
        """Writes an interval checkpoint when one is due; call only where the model state is consistent."""
        if self.checkpoint_interval and self.num_timesteps >= self._next_checkpoint:
            self._save_checkpoint(self.num_timesteps)
            self._next_checkpoint = self._next_multiple(self.checkpoint_interval)

    @property
    def mean_return(self) -> float:
        """Mean return of the last 100 episodes (NaN before the first)."""
        return float(np.mean(self._returns)) if self._returns else float("nan")

    def log_interval_row(self) -> None:
        """Writes a progress row and the curriculum's metrics for the current step (once per step count)."""
        now = time.monotonic()
        steps = self.num_timesteps
        if steps == self._last_logged:
            return
        self._last_logged = steps
        steps_per_sec = (steps - self._last_steps) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_steps = now, steps
        row = {
            "step": steps,
            "time": round(self.elapsed, 3),
            "steps_per_sec": round(steps_per_sec, 1),
            "episodes": self.episodes,
            "episode_return_mean": self.mean_return if self._returns else "",
            "episode_length_mean": float(np.mean(self._lengths)) if self._lengths else "",
        }
        metrics = (
            self.curriculum.log_metrics(max_tasks=self._max_tasks) if self.curriculum is not None else {}
        )
        self.logs.interval(row, metrics)
        self.display.interval(steps, steps_per_sec, self.mean_return)
