"""The interface every learner of the runner implements: build, learn, save, load, act for eval.

A run picks its learner from ``learner.name`` ([`syllabus.cli.learners.learner_class`][syllabus.cli.learners.learner_class]); the
training stages ([`syllabus.cli.pipeline`][syllabus.cli.pipeline]) and ``syllabus eval`` call only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from syllabus.cli.run_dir import TrainerState
from syllabus.cli.schema import RunConfig

if TYPE_CHECKING:  # the callback imports numpy: validation, which reads the learner entries, must not
    from syllabus.cli.callbacks import RunCallback


class Policy(Protocol):
    """A trained policy loaded from a checkpoint, acting in a single (unvectorized) task env."""

    def act(self, obs: Any, *, deterministic: bool) -> Any:
        """The env action for ``obs`` (greedy with ``deterministic``)."""
        ...


class Learner(ABC):
    """A training algorithm with the envs it trains on.

    Open one with [`open`][syllabus.cli.learners.base.Learner.open] (a new model, or the model of a checkpoint), train with [`learn`][syllabus.cli.learners.base.Learner.learn],
    save with [`save`][syllabus.cli.learners.base.Learner.save], and close it (or use ``with``) to stop its envs and sync machinery.
    """

    curriculum: Any
    """The learner-side curriculum (what checkpoints save and logs report), ``None`` without one."""

    @classmethod
    @abstractmethod
    def open(cls, run: RunConfig, curriculum: Any, checkpoint: Path | None, state: TrainerState) -> Learner:
        """Builds the envs and the model of ``run`` (from ``checkpoint`` and its trainer ``state`` when given)."""

    @property
    @abstractmethod
    def num_timesteps(self) -> int:
        """Env steps trained so far, including those before a resume."""

    @abstractmethod
    def learn(self, total_timesteps: int, callback: RunCallback) -> None:
        """Trains until ``total_timesteps`` env steps in all, or until ``callback`` asks to stop.

        Args:
            total_timesteps: The run's step budget (not the steps still to go).
            callback: The run's [`RunCallback`][syllabus.cli.callbacks.RunCallback] (logs, progress,
                interval checkpoints, stop requests).
        """

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Writes the model (and optimizer state) into the checkpoint ``directory``."""

    @classmethod
    @abstractmethod
    def verify(cls, checkpoint: Path) -> None:
        """Checks that the model files [`save`][syllabus.cli.learners.base.Learner.save] wrote into ``checkpoint`` are whole, without loading them.

        Raises:
            CheckpointError: Naming the missing or damaged file.
        """

    @classmethod
    @abstractmethod
    def load_policy(cls, run: RunConfig, checkpoint: Path) -> Policy:
        """The policy saved in ``checkpoint``, for ``syllabus eval``."""

    @abstractmethod
    def close(self) -> None:
        """Stops the envs and the sync machinery (idempotent)."""

    def __enter__(self) -> Learner:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
