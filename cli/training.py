"""One training run, as the four stages of [`syllabus.cli.pipeline`][syllabus.cli.pipeline]: validate,
build, learn, finish.

Ctrl-C or SIGTERM stops training after the current env step; the run still saves a checkpoint
and closes its envs and curriculum. A second Ctrl-C aborts without a checkpoint (a second SIGTERM
does not: a scheduler's SIGKILL ends the run when its grace period is over).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from syllabus.cli.builders import check_env_config
from syllabus.cli.environments import check_sync_config
from syllabus.cli.learners import Learner, learner_class
from syllabus.cli.pipeline import build, finish
from syllabus.cli.pipeline.learn import learn, stop_on_signals
from syllabus.cli.schema import RunConfig, budget_warning

logger = logging.getLogger("syllabus.train")


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
        ConfigError, MissingDependencyError: Raised before anything starts.
        RunFailure: Training failed (an env, its worker or the curriculum); ``meta.json`` says why. The last
            checkpoint stays as it was: none is written from a failed run.
    """
    learner_type = learner_class(run.learner.name)
    if not _ready_to_start(run, learner_type):
        return "interrupted"
    start = build.prepare(run, run_dir, resume=resume, checkpoint=checkpoint, command=command)
    if start is None:
        return "completed"
    stop = threading.Event()
    with finish.recorded(run_dir, start.meta, start.state.num_timesteps) as outcome, stop_on_signals(stop):
        if stop_requested is not None and stop_requested():
            stop.set()
        outcome.learner = build.open_learner(run, run_dir, learner_type, start)
        with outcome.learner:
            outcome.status = learn(
                run, run_dir, outcome.learner, start.state, stop, quiet=quiet, multirun=multirun
            )
    return outcome.status


def _ready_to_start(run: RunConfig, learner_type: type[Learner]) -> bool:
    """Checks what the config cannot say by itself (the learner's needs, the env's and sync's packages, a
    Ray cluster to join) and warns of a budget that is not whole rollouts.

    Returns:
        Whether to go on: ``False`` when a Ctrl-C interrupted the check of ``sync.address``.
    """
    learner_type.check(run)
    check_env_config(run.env)
    try:
        check_sync_config(run.sync)  # joining a Ray cluster may take up to sync.join_timeout
    except KeyboardInterrupt:
        logger.warning("interrupted before training started (while checking sync.address)")
        return False
    warning = budget_warning(run)
    if warning:
        logger.warning("%s", warning)
    return True
