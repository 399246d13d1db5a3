"""The build stage: the run's starting point (trainer state, curriculum, ``meta.json``) and its learner."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syllabus.cli import environments
from syllabus.cli.builders import make_curriculum, task_space_of
from syllabus.cli.errors import RunFailure, describe_disk_error, disk_write_error
from syllabus.cli.learners import Learner
from syllabus.cli.run_dir import TrainerState, load_curriculum_state, load_trainer_state, start_meta
from syllabus.cli.schema import RunConfig

from syllabus.core import Curriculum

logger = logging.getLogger("syllabus.train")


@dataclass
class Start:
    """Where a run starts.

    Attributes:
        state: The trainer state (step count, episodes, time, RNG states): the checkpoint's, else step 0.
        curriculum: The run's curriculum with the checkpoint's state (``None`` for ``curriculum=none``).
        checkpoint: The checkpoint resumed from (``None`` for a new run).
        meta: ``meta.json``, as written with status ``running``.
    """

    state: TrainerState
    curriculum: Curriculum | None
    checkpoint: Path | None
    meta: dict[str, Any]


def prepare_sync(run: RunConfig) -> bool:
    """The first build step ([`prepare_sync`][syllabus.cli.environments.prepare_sync]): starts the
    forkserver of ``sync=multiprocessing``, checks that the Ray cluster at ``sync.address`` can be joined.

    Returns:
        Whether to go on: ``False`` when a Ctrl-C interrupted the check of ``sync.address``.
    """
    try:
        environments.prepare_sync(run)  # joining a Ray cluster may take up to sync.join_timeout
    except KeyboardInterrupt:
        logger.warning("interrupted before training started (while checking sync.address)")
        return False
    return True


def prepare(
    run: RunConfig, run_dir: Path, *, resume: bool, checkpoint: Path | None, command: str
) -> Start | None:
    """Restores the trainer state and the curriculum (from ``checkpoint`` when given) and writes ``meta.json``.

    Returns:
        Where the run starts; ``None`` when ``checkpoint`` already reached ``total_timesteps``.

    Raises:
        RunFailure: ``meta.json`` cannot be written (a full or read-only disk); the message names the path.
    """
    state = _starting_state(run, run_dir, resume=resume, checkpoint=checkpoint)
    if state is None:
        return None
    curriculum = _restored_curriculum(run, checkpoint)
    try:
        meta = start_meta(
            run_dir, command=command, seed=run.seed, resume_from=state.num_timesteps if resume else None
        )
    except OSError as exc:
        if disk_write_error(exc) is None:
            raise
        raise RunFailure(describe_disk_error(exc, run_dir), state.num_timesteps) from None
    return Start(state, curriculum, checkpoint, meta)


def open_learner(run: RunConfig, run_dir: Path, learner_type: type[Learner], start: Start) -> Learner:
    """Starts the run's envs (and sync machinery) and its model, new or from the checkpoint."""
    logger.info(
        "%s: starting %d %s envs (sync=%s) and %s; progress follows once training starts",
        run_dir,
        run.num_envs,
        run.env.name,
        run.sync.name,
        run.learner.name,
    )
    return learner_type.open(run, start.curriculum, start.checkpoint, start.state)


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
