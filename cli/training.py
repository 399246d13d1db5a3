"""One training run: build everything from a validated config, train, log, checkpoint, shut down.

Ctrl-C (or SIGTERM) stops training after the current env step; the run still saves a checkpoint
and closes its envs and curriculum. A second Ctrl-C aborts without a checkpoint.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from syllabus.cli.builders import check_env_config, make_curriculum, task_space_of
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.environments import check_sync_config
from syllabus.cli.errors import RunDirError, RunFailure, describe_failure, user_error_types
from syllabus.cli.learners import Learner, learner_class
from syllabus.cli.progress import make_display
from syllabus.cli.run_dir import (
    FINAL,
    TrainerState,
    finish_meta,
    latest_checkpoint,
    load_curriculum_state,
    load_trainer_state,
    save_checkpoint,
    start_meta,
)
from syllabus.cli.run_logs import RunLogs
from syllabus.cli.schema import RunConfig

logger = logging.getLogger("syllabus.train")


class ResumeError(RunDirError):
    """A run directory cannot be resumed; the message says why."""


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While active, the first SIGINT/SIGTERM sets ``stop``; a second raises KeyboardInterrupt.

    Only the main thread can install signal handlers; elsewhere (e.g. a launcher's worker thread)
    the default handling stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def train(run: RunConfig, run_dir: Path, *, resume: bool, command: str, quiet: bool, multirun: bool) -> str:
    """Trains ``run`` in ``run_dir`` (continuing its latest checkpoint with ``resume``).

    Returns:
        The final status: ``completed`` or ``interrupted``.

    Raises:
        ResumeError: ``resume`` and the run has no checkpoint.
        ConfigError, MissingDependencyError: Raised before anything starts.
        RunFailure: Training failed (an env, its worker or the curriculum); ``meta.json`` says why. The last
            checkpoint stays as it was: none is written from a failed run.
    """
    learner_type = learner_class(run.learner.name)
    learner_type.check(run)
    check_env_config(run.env)
    try:
        check_sync_config(run.sync)  # joining a Ray cluster may take up to sync.join_timeout
    except KeyboardInterrupt:
        logger.warning("interrupted before training started (while checking sync.address)")
        return "interrupted"
    checkpoint, state = None, TrainerState()
    if resume:
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            raise ResumeError(
                f"{run_dir} has no checkpoint to resume from (checkpoints/ is empty or missing)"
            )
        state = load_trainer_state(checkpoint)
        if state.num_timesteps >= run.total_timesteps:
            logger.info(
                "%s is already at step %d >= total_timesteps=%d; to train longer, resume with total_timesteps=<more>",
                run_dir,
                state.num_timesteps,
                run.total_timesteps,
            )
            return "completed"
        logger.info("resuming %s from %s at step %d", run_dir, checkpoint.name, state.num_timesteps)
    curriculum = make_curriculum(run, task_space_of(run.env))
    if checkpoint is not None and curriculum is not None:
        curriculum_state = load_curriculum_state(checkpoint)
        if curriculum_state is not None:
            curriculum.load_state_dict(curriculum_state)
    meta = start_meta(
        run_dir, command=command, seed=run.seed, resume_from=state.num_timesteps if resume else None
    )
    stop = threading.Event()
    status, reason, failed_at = "failed", None, None
    learner: Learner | None = None
    try:
        with stop_on_signals(stop):
            logger.info(
                "%s: starting %d %s envs (sync=%s) and %s; progress follows once training starts",
                run_dir,
                run.num_envs,
                run.env.name,
                run.sync.name,
                run.learner.name,
            )
            learner = learner_type.open(run, curriculum, checkpoint, state)
            with learner:
                status = _learn(
                    run, run_dir, learner, checkpoint, state, stop, quiet=quiet, multirun=multirun
                )
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except RunFailure as exc:
        failed_at, reason = exc.steps, str(exc)
        raise
    except user_error_types() as exc:  # e.g. no Ray cluster at sync.address: still the user's to fix
        reason = str(exc)
        raise
    except Exception as exc:
        reason = describe_failure(exc)
        raise RunFailure(reason, state.num_timesteps if learner is None else learner.num_timesteps) from exc
    finally:
        # The steps actually trained, also when the run fails or is aborted.
        steps = state.num_timesteps if learner is None else learner.num_timesteps
        finish_meta(run_dir, meta, status, steps if failed_at is None else failed_at, reason)
    return status


def _learn(
    run: RunConfig,
    run_dir: Path,
    learner: Learner,
    checkpoint: Path | None,
    state: TrainerState,
    stop: threading.Event,
    *,
    quiet: bool,
    multirun: bool,
) -> str:
    """Trains ``learner`` to the run's budget with logs, progress and checkpoints; returns the status."""
    logs = RunLogs(
        run_dir,
        tensorboard=run.logger.tensorboard,
        resume_step=None if checkpoint is None else state.num_timesteps,
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
        except Exception as exc:  # the model may be mid-rollout: no checkpoint from here
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
