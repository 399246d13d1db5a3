"""The task-space interface shared by every kind of task space."""

from __future__ import annotations

import abc
from collections.abc import Hashable
from typing import Any

import gymnasium as gym
import numpy as np

from syllabus.core.checks import is_integer
from syllabus.core.errors import TaskSpaceError


def is_index(value: Any, n: int) -> bool:
    """Whether ``value`` is an integer (Python or numpy, not bool) in ``range(n)``.

    Args:
        value: The value to check.
        n: Number of valid indices.
    """
    return is_integer(value) and bool(0 <= value < n)


class TaskSpace(abc.ABC):
    """A set of tasks, with uniform sampling and an encoding of tasks for curricula.

    Enumerable spaces (``num_tasks`` is not None) encode each task as a dense index in
    ``range(num_tasks)``, so curricula can index arrays by task. Their tasks must be hashable
    values (ints, strings, tuples), except that a ``DictTaskSpace`` task is a dict.

    Each space owns a random generator for [`sample`][syllabus.task_space.base.TaskSpace.sample]; global numpy random state is never used.
    Spaces compare structurally with ``==`` and can be pickled.
    """

    def __init__(self) -> None:
        self._rng = np.random.default_rng()

    def seed(self, seed: int | None) -> None:
        """Reseeds the space's own random generator.

        Args:
            seed: Seed of the space's own random generator; ``None`` for fresh entropy.
        """
        self._rng = np.random.default_rng(seed)

    def sample(self, rng: np.random.Generator | None = None) -> Any:
        """Samples one task uniformly, from ``rng`` if given, else from the space's own generator.

        Args:
            rng: Random generator to draw from; the space's own (see ``seed``) when ``None``.
        """
        return self._sample(self._rng if rng is None else rng)

    @abc.abstractmethod
    def _sample(self, rng: np.random.Generator) -> Any:
        """Samples one task uniformly from ``rng``."""

    @abc.abstractmethod
    def contains(self, task: Any) -> bool:
        """Whether ``task`` is a task of this space.

        Args:
            task: A candidate task.
        """

    def __contains__(self, task: Any) -> bool:
        return self.contains(task)

    @abc.abstractmethod
    def encode(self, task: Any) -> Any:
        """Encodes a task.

        Args:
            task: A task of this space.

        Raises:
            TaskSpaceError: If ``task`` is not in the space.
        """

    @abc.abstractmethod
    def decode(self, encoding: Any) -> Any:
        """Decodes an encoding back to its task.

        Args:
            encoding: A task's encoding (for enumerable spaces, its index in ``range(num_tasks)``).

        Raises:
            TaskSpaceError: If ``encoding`` is not a valid encoding.
        """

    @property
    @abc.abstractmethod
    def num_tasks(self) -> int | None:
        """The number of tasks, or None if the space is not enumerable."""

    def require_num_tasks(self, user: str) -> int:
        """Returns [`num_tasks`][syllabus.task_space.base.TaskSpace.num_tasks] of an enumerable space.

        Args:
            user: Name of what needs an enumerable space, for the error message.

        Raises:
            ValueError: The space is not enumerable; the message names ``user``, which needs it to be.
        """
        n = self.num_tasks
        if n is None:
            raise ValueError(
                f"{user} needs an enumerable task space (e.g. DiscreteTaskSpace), got {self!r}; "
                "for Box task spaces use SimulatedAnnealing or ExpandingBox"
            )
        return n

    @property
    def is_enumerable(self) -> bool:
        """Whether the tasks can be listed (``num_tasks`` is not None)."""
        return self.num_tasks is not None

    @property
    def tasks(self) -> list[Any]:
        """All tasks in encoding order (``tasks[i] == decode(i)``).

        Raises:
            TypeError: If the space is not enumerable.
        """
        n = self.num_tasks
        if n is None:
            raise TypeError(f"{self!r} is not enumerable (num_tasks is None), so it has no task list")
        return [self.decode(i) for i in range(n)]

    def to_gym_space(self) -> gym.spaces.Space:
        """The gymnasium space of encodings: ``Discrete(num_tasks)`` for enumerable spaces."""
        return gym.spaces.Discrete(self.require_num_tasks("to_gym_space"))

    @abc.abstractmethod
    def _key(self) -> Hashable:
        """The parameters that define the space, for equality and hashing."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskSpace):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self), self._key()))

    def _valid_encodings(self) -> str:
        """Describes the valid encodings, for error messages."""
        return f"integers 0..{self.require_num_tasks('an index encoding') - 1}"

    def _check_index(self, encoding: Any) -> int:
        """Returns ``encoding`` as an int if it is a valid index of an enumerable space."""
        if not is_index(encoding, self.require_num_tasks("an index encoding")):
            raise self._encoding_error(encoding)
        return int(encoding)

    def _task_error(self, task: Any) -> TaskSpaceError:
        return TaskSpaceError(f"task {task!r} is not in {self!r}")

    def _encoding_error(self, encoding: Any) -> TaskSpaceError:
        return TaskSpaceError(
            f"encoding {encoding!r} is not valid for {self!r} (valid: {self._valid_encodings()})"
        )
