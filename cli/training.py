"""One training run: build everything from a validated config, train, log, checkpoint, shut down.

Ctrl-C or SIGTERM stops training after the current env step; the run still saves a checkpoint
and closes its envs and curriculum. A second Ctrl-C aborts without a checkpoint (a second SIGTERM
does not: a scheduler's SIGKILL ends the run when its grace period is over).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from syllabus.cli.builders import make_curriculum, task_space_of
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.environments import prepare_sync
from syllabus.cli.errors import (
    RunFailure,
    describe_disk_error,
    describe_failure,
    disk_write_error,
    user_error_types,
)
from syllabus.cli.learners import Learner, learner_class
from syllabus.cli.progress import make_display
from syllabus.cli.run_dir import (
    FINAL,
    TrainerState,
    finish_meta,
    load_curriculum_state,
    load_trainer_state,
    save_checkpoint,
    start_meta,
)
from syllabus.cli.run_logs import RunLogs
from syllabus.cli.schema import RunConfig, budget_warning

from syllabus.core import Curriculum

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


def train(
    run: RunConfig,
    run_dir: Path,
    *,
    resume: bool,
    checkpoint: Path | None = None,
    command: str,
    quiet: bool,
    multirun: bool,
    stop_requested: Callable[[], bool] | None = None,
) -> str:
    """Trains ``run`` in ``run_dir``; with ``resume``, continues from ``checkpoint``, or starts afresh when the
    run has none yet (a job preempted before its first checkpoint resumes with the same command).
    ``stop_requested`` tells whether a Ctrl-C or SIGTERM arrived before this run installed its own
    handlers (e.g. while the config was composed): the run then stops at once, with a checkpoint.

    Returns:
        The final status: ``completed`` or ``interrupted``.

    Raises:
        ConfigError, MissingDependencyError: Before anything starts (``run`` is validated by
            [`validate`][syllabus.cli.schema.validate]; this only checks that a Ray cluster can be joined).
        RunFailure: Training failed (an env, its worker or the curriculum); ``meta.json`` says why. The last
            checkpoint stays as it was: none is written from a failed run.
    """
    learner_type = learner_class(run.learner.name)
    warning = budget_warning(run)
    if warning:
        logger.warning("%s", warning)
    if not _prepare_sync(run):
        return "interrupted"
    state = _starting_state(run, run_dir, resume=resume, checkpoint=checkpoint)
    if state is None:
        return "completed"
    curriculum = _restored_curriculum(run, checkpoint)
    meta = _start_meta(run, run_dir, state, command=command, resume=resume)
    return _learn_and_finish(
        run,
        run_dir,
        learner_type,
        curriculum,
        checkpoint,
        state,
        meta,
        stop_requested,
        quiet=quiet,
        multirun=multirun,
    )


def _prepare_sync(run: RunConfig) -> bool:
    """The first build step ([`prepare_sync`][syllabus.cli.environments.prepare_sync]): starts the
    forkserver of ``sync=multiprocessing``, checks that the Ray cluster at ``sync.address`` can be joined.

    Returns:
        Whether to go on: ``False`` when a Ctrl-C interrupted the check of ``sync.address``.
    """
    try:
        prepare_sync(run)  # joining a Ray cluster may take up to sync.join_timeout
    except KeyboardInterrupt:
        logger.warning("interrupted before training started (while checking sync.address)")
        return False
    return True


def _starting_state(
    run: RunConfig, run_dir: Path, *, resume: bool, checkpoint: Path | None
) -> TrainerState | None:
    """The trainer state the run starts from (``checkpoint``'s, else step 0); ``None`` when ``checkpoint``
    already reached ``total_timesteps``."""
    state = TrainerState()
    if resume and checkpoint is None:
        logger.warning("%s has no checkpoint yet: --resume trains it from step 0", run_dir)
    elif checkpoint is not None:
        state = load_trainer_state(checkpoint)
        if state.num_timesteps >= run.total_timesteps:
            logger.info(
                "%s is already at step %d >= total_timesteps=%d; to train longer, resume with total_timesteps=<more>",
                run_dir,
                state.num_timesteps,
                run.total_timesteps,
            )
            return None
        logger.info("resuming %s from %s at step %d", run_dir, checkpoint.name, state.num_timesteps)
    return state


def _restored_curriculum(run: RunConfig, checkpoint: Path | None) -> Curriculum | None:
    """The run's curriculum (``None`` for ``curriculum=none``), with ``checkpoint``'s state when it has one."""
    curriculum = make_curriculum(run, task_space_of(run.env))
    if checkpoint is not None and curriculum is not None:
        curriculum_state = load_curriculum_state(checkpoint)
        if curriculum_state is not None:
            curriculum.load_state_dict(curriculum_state)
    return curriculum


def _start_meta(
    run: RunConfig, run_dir: Path, state: TrainerState, *, command: str, resume: bool
) -> dict[str, Any]:
    """Writes ``meta.json`` (status ``running``) and returns it.

    Raises:
        RunFailure: The disk is full or read-only; the message names the path.
    """
    try:
        return start_meta(
            run_dir, command=command, seed=run.seed, resume_from=state.num_timesteps if resume else None
        )
    except OSError as exc:
        if disk_write_error(exc) is None:
            raise
        raise RunFailure(describe_disk_error(exc, run_dir), state.num_timesteps) from None


def _learn_and_finish(
    run: RunConfig,
    run_dir: Path,
    learner_type: type[Learner],
    curriculum: Curriculum | None,
    checkpoint: Path | None,
    state: TrainerState,
    meta: dict[str, Any],
    stop_requested: Callable[[], bool] | None,
    *,
    quiet: bool,
    multirun: bool,
) -> str:
    """Opens the learner and trains it under Ctrl-C and SIGTERM handling, then records in ``meta.json``
    how the run ended (also when it fails or is aborted); returns the status.

    Raises:
        RunFailure: Training failed; the reason is also in ``meta.json``.
    """
    stop = threading.Event()
    status, reason, failed_at = "failed", None, None
    learner: Learner | None = None
    try:
        with stop_on_signals(stop):
            if stop_requested is not None and stop_requested():
                stop.set()
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
    except Exception as exc:
        steps = state.num_timesteps if learner is None else learner.num_timesteps
        disk = disk_write_error(exc)
        if disk is not None:  # a full or read-only disk: one line naming the path
            failed_at, reason = (
                exc.steps if isinstance(exc, RunFailure) else steps,
                describe_disk_error(disk, run_dir),
            )
            raise RunFailure(reason, failed_at) from None
        if isinstance(exc, RunFailure):
            failed_at, reason = exc.steps, str(exc)
            raise
        if isinstance(
            exc, user_error_types()
        ):  # e.g. no Ray cluster at sync.address: still the user's to fix
            reason = str(exc)
            raise
        reason = describe_failure(exc)
        raise RunFailure(reason, steps) from exc
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
