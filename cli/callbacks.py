"""The callback of a run: episode and interval logs, progress, interval checkpoints and stop requests.

An SB3 callback; learners that are not SB3 drive its learner-neutral methods directly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from syllabus.cli.run_logs import RunLogs
from syllabus.cli.selfplay import policy_snapshot

RECENT_EPISODES = 100


class RunCallback(BaseCallback):
    """Logs every finished episode with its task, a progress row per log interval, and stops on request.

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
        super().__init__()
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
        self._tasks: list[Any] = []
        self._start = time.monotonic()
        self._last_time = self._start
        self._last_steps = 0
        self._next_log = 0
        self._next_checkpoint = 0
        self._last_logged = -1

    @property
    def elapsed(self) -> float:
        """Training seconds, including those before a resume."""
        return self._elapsed_before + time.monotonic() - self._start

    def _next_multiple(self, interval: int) -> int:
        return (self.num_timesteps // interval + 1) * interval

    def _on_training_start(self) -> None:
        self.begin(self.num_timesteps)
        reset_infos = self.training_env.unwrapped.reset_infos
        self._tasks = [info.get("task") for info in reset_infos]

    def _on_rollout_start(self) -> None:
        # Between rollouts the model has trained on every step counted so far: a consistent checkpoint.
        self.checkpoint_if_due()

    def _on_step(self) -> bool:
        dones = self.locals["dones"]
        if dones.any():
            infos = self.locals["infos"]
            reset_infos = self.training_env.unwrapped.reset_infos
            for i in np.flatnonzero(dones).tolist():
                episode = infos[i].get("episode")
                if episode is not None:
                    self.record_episode(i, self._tasks[i], episode["r"], episode["l"])
                self._tasks[i] = reset_infos[i].get("task")
        return self.advance(self.num_timesteps)

    # The learner-neutral part, also driven directly by learners that are not SB3 (RLlib).

    def begin(self, steps: int) -> None:
        """Starts timing and the log and checkpoint schedules at ``steps`` (the first step of this session)."""
        self.num_timesteps = steps
        self._start = self._last_time = time.monotonic()
        self._last_steps = steps
        self._next_log = self._next_multiple(self.log_interval)
        if self.checkpoint_interval:
            self._next_checkpoint = self._next_multiple(self.checkpoint_interval)

    def record_episode(self, env_id: int, task: Any, episode_return: float, length: int) -> None:
        """Counts and logs one finished episode (at the current step)."""
        self.episodes += 1
        self._returns.append(float(episode_return))
        self._lengths.append(int(length))
        self.logs.episode(self.num_timesteps, env_id, task, episode_return, length)

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


class SnapshotCallback(BaseCallback):
    """Self-play: adds a snapshot of the learner's policy to the curriculum's pool every ``interval`` env steps
    ([`syllabus.cli.selfplay`][syllabus.cli.selfplay]).

    A snapshot is taken at the first rollout start at or after each multiple of ``interval``: between
    rollouts the policy has trained on every step counted, and the run's checkpoint (due at the same
    rollout start, later in the callback list) already holds it.

    Args:
        curriculum: The learner-side curriculum (a self-play curriculum, or the sync wrapper serving it).
        interval: Env steps between snapshots.
    """

    def __init__(self, curriculum: Any, interval: int) -> None:
        super().__init__()
        self.curriculum = curriculum
        self.interval = interval
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = (self.model.num_timesteps // self.interval + 1) * self.interval

    def _on_rollout_start(self) -> None:
        steps = self.model.num_timesteps
        if steps >= self._next:
            self.curriculum.add_agent(policy_snapshot(self.model.policy))
            self._next = (steps // self.interval + 1) * self.interval

    def _on_step(self) -> bool:
        return True
