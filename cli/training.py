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

from syllabus.cli.builders import (
    check_env_config,
    learner_callbacks,
    make_curriculum,
    make_learner,
    ppo_class,
    set_torch_threads,
    task_space_of,
)
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.environments import Environments, check_sync_config, open_environments, start_worker_server
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


class ResumeError(RuntimeError):
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
    """
    check_env_config(run.env)
    check_sync_config(run.sync)
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
    start_worker_server(run)  # its imports overlap with the learner's
    from stable_baselines3.common.utils import set_random_seed

    set_random_seed(run.seed)
    meta = start_meta(
        run_dir, command=command, seed=run.seed, resume_from=state.num_timesteps if resume else None
    )
    stop = threading.Event()
    status, steps = "failed", state.num_timesteps
    try:
        with stop_on_signals(stop), open_environments(run, curriculum) as envs:
            status, steps = _learn(
                run, run_dir, envs, checkpoint, state, stop, quiet=quiet, multirun=multirun
            )
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        finish_meta(run_dir, meta, status, steps)
    return status


def _learn(
    run: RunConfig,
    run_dir: Path,
    envs: Environments,
    checkpoint: Path | None,
    state: TrainerState,
    stop: threading.Event,
    *,
    quiet: bool,
    multirun: bool,
) -> tuple[str, int]:
    if checkpoint is None:
        model = make_learner(run, envs.venv)
    else:
        set_torch_threads(run.learner)
        model = ppo_class(run).load(checkpoint / "model.zip", env=envs.venv, device=run.learner.device)
        state.restore_rng()
        envs.venv.seed(run.seed + state.num_timesteps)
    logs = RunLogs(
        run_dir,
        tensorboard=run.logger.tensorboard,
        resume_step=None if checkpoint is None else state.num_timesteps,
    )
    model.set_logger(logs.sb3_logger)
    display = make_display(
        "log" if quiet else run.logger.progress,
        multirun=multirun,
        total=run.total_timesteps,
        initial=state.num_timesteps,
    )

    def snapshot(name: str) -> Path:
        snap = TrainerState(model.num_timesteps, callback.episodes, callback.elapsed)
        snap.capture_rng()
        return save_checkpoint(run_dir, name, model, envs.curriculum, snap)

    callback = RunCallback(
        logs,
        display,
        envs.curriculum,
        log_interval=run.logger.log_interval,
        checkpoint_interval=run.logger.checkpoint_interval,
        save_checkpoint=lambda step: snapshot(f"step_{step}"),
        stop=stop,
        episodes=state.episodes,
        elapsed=state.elapsed,
        max_tasks=run.logger.max_tasks,
    )
    try:
        model.learn(
            run.total_timesteps - model.num_timesteps,
            callback=[*learner_callbacks(run, envs.curriculum), callback],
            reset_num_timesteps=checkpoint is None,
        )
        callback.log_interval_row()
        if stop.is_set():
            path = snapshot(f"step_{model.num_timesteps}")
            logger.warning(
                "interrupted at step %d; saved %s. Continue with: syllabus train --resume %s",
                model.num_timesteps,
                path,
                run_dir,
            )
            return "interrupted", model.num_timesteps
        path = snapshot(FINAL)
        logger.info(
            "done: %d steps, mean return (last 100 episodes) %.2f; saved %s",
            model.num_timesteps,
            callback.mean_return,
            path,
        )
        return "completed", model.num_timesteps
    finally:
        display.close()
        logs.close()
