"""The learn stage: trains an opened learner to the run's budget with logs, progress and checkpoints.

Ctrl-C or SIGTERM stops training after the current env step; the run still saves a checkpoint. A second
Ctrl-C aborts without one (a second SIGTERM does not: a scheduler's SIGKILL ends the run when its grace
period is over).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from syllabus.cli.callbacks import RunCallback
from syllabus.cli.errors import RunFailure, describe_failure
from syllabus.cli.learners import Learner
from syllabus.cli.progress import make_display
from syllabus.cli.run_dir import FINAL, TrainerState, save_checkpoint
from syllabus.cli.run_logs import RunLogs
from syllabus.cli.schema import RunConfig

logger = logging.getLogger("syllabus.train")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While active, SIGINT and SIGTERM set ``stop``; a second SIGINT raises KeyboardInterrupt.

    SIGTERM never aborts: schedulers (``timeout``, systemd, SLURM) send it to every process of the job,
    some more than once, and follow with SIGKILL after their grace period. Only the main thread can
    install signal handlers; elsewhere (e.g. a launcher's worker thread) the default handling stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not stop.is_set():
            logger.warning("%s received: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def learn(
    run: RunConfig,
    run_dir: Path,
    learner: Learner,
    state: TrainerState,
    stop: threading.Event,
    *,
    quiet: bool,
    multirun: bool,
) -> str:
    """Trains ``learner`` to the run's budget, or until ``stop`` is set; returns the status.

    Writes the run's logs and progress, interval checkpoints, and a last checkpoint: ``final`` when
    the budget is reached, ``step_<N>`` when stopped (status ``interrupted``).

    Raises:
        RunFailure: Training failed (the model may be mid-rollout: no checkpoint is written).
    """
    logs = RunLogs(
        run_dir,
        tensorboard=run.logger.tensorboard,
        resume_step=state.num_timesteps,  # drops rows a run logged after its checkpoint (all, without one)
    )
    display = make_display(
        "log" if quiet else run.logger.progress,
        multirun=multirun,
        total=run.total_timesteps,
        initial=state.num_timesteps,
        log_seconds=run.logger.log_seconds,
    )

    def snapshot(name: str) -> Path:
        snap = TrainerState(learner.num_timesteps, callback.episodes, callback.elapsed)
        snap.capture_rng()
        logs.sync()  # the logs reach the disk first: a checkpoint is never ahead of them
        return save_checkpoint(run_dir, name, learner, learner.curriculum, snap)

    callback = RunCallback(
        logs,
        display,
        learner.curriculum,
        log_interval=run.logger.log_interval,
        checkpoint_interval=run.logger.checkpoint_interval,
        save_checkpoint=lambda step: snapshot(f"step_{step}"),
        stop=stop,
        episodes=state.episodes,
        elapsed=state.elapsed,
        max_tasks=run.logger.max_tasks,
    )
    try:
        try:
            learner.learn(run.total_timesteps, callback)
        except Exception as exc:
            raise RunFailure(describe_failure(exc), learner.num_timesteps) from exc
        callback.log_interval_row()
        if stop.is_set():
            path = snapshot(f"step_{learner.num_timesteps}")
            logger.warning(
                "interrupted at step %d; saved %s. Continue with: syllabus train --resume %s",
                learner.num_timesteps,
                path,
                run_dir,
            )
            return "interrupted"
        path = snapshot(FINAL)
        logger.info(
            "done: %d steps, mean return (last 100 episodes) %.2f; saved %s",
            learner.num_timesteps,
            callback.mean_return,
            path,
        )
        return "completed"
    finally:
        display.close()
        logs.close()
