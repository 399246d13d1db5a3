"""One training run, as the stages of [`syllabus.cli.pipeline`][syllabus.cli.pipeline]: build, learn, finish.

Validation, the first stage, has run before: [`syllabus.cli.schema.validate`][syllabus.cli.schema.validate]
turned the composed config into the [`RunConfig`][syllabus.cli.schema.RunConfig] this module takes.
Ctrl-C or SIGTERM stops training after the current env step; the run still saves a checkpoint
and closes its envs and curriculum. A second Ctrl-C aborts without a checkpoint (a second SIGTERM
does not: a scheduler's SIGKILL ends the run when its grace period is over).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from syllabus.cli.learners import learner_class
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
        ConfigError, MissingDependencyError: Before anything starts (``run`` is validated by
            [`validate`][syllabus.cli.schema.validate]; this only checks that a Ray cluster can be joined).
        RunFailure: Training failed (an env, its worker or the curriculum); ``meta.json`` says why. The last
            checkpoint stays as it was: none is written from a failed run.
    """
    learner_type = learner_class(run.learner.name)
    warning = budget_warning(run)
    if warning:
        logger.warning("%s", warning)
    if not build.prepare_sync(run):
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
