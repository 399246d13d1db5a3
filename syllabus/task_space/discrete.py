"""Finite task spaces: a list of tasks, and products of such lists."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from syllabus.core.checks import is_integer
from syllabus.task_space.base import TaskSpace, is_index
from syllabus.task_space.composite import TupleTaskSpace

_REPR_MAX_TASKS = 6


def _plain(value: Any) -> Any:
    """Converts a numpy scalar to the equivalent Python value."""
    return value.item() if isinstance(value, np.generic) else value


class DiscreteTaskSpace(TaskSpace):
    """A finite set of tasks, encoded by position.

    Args:
        n_or_tasks: Either a count ``n`` (the tasks are the ints ``0..n-1`` and encode to
            themselves) or a sequence of distinct hashable tasks such as ``["easy", "hard"]`` or
            level seeds ``[3, 17, 42]`` (a task encodes to its position). Numpy scalars among
            the tasks are stored as Python values.

    A task must match a listed task in value and type: ``1.0`` and ``True`` are not the task
    ``1``, while a numpy integer is accepted for a Python int.
    """

    def __init__(self, n_or_tasks: int | Iterable[Hashable]) -> None:
        super().__init__()
        if is_integer(n_or_tasks):
            if n_or_tasks < 1:
                raise ValueError(f"DiscreteTaskSpace needs at least one task, got n={n_or_tasks!r}")
            self._n = int(n_or_tasks)
            self._tasks: list[Hashable] | None = None
            self._index: dict[Hashable, int] | None = None
        elif isinstance(n_or_tasks, Iterable) and not isinstance(n_or_tasks, (str, bytes)):
            self._tasks = [_plain(task) for task in n_or_tasks]
            nan = next((t for t in self._tasks if isinstance(t, float) and math.isnan(t)), None)
            if nan is not None:
                raise ValueError(
                    f"a task must equal itself to be found again; NaN cannot be a task, got {nan!r}"
                )
            self._index = _index_tasks(self._tasks)
            self._n = len(self._tasks)
        else:
            raise TypeError(f"DiscreteTaskSpace needs an int or a sequence of tasks, got {n_or_tasks!r}")

    @property
    def num_tasks(self) -> int:
        """The number of tasks."""
        return self._n

    @property
    def tasks(self) -> list[Hashable]:
        """All tasks in encoding order."""
        return list(range(self._n)) if self._tasks is None else list(self._tasks)

    def _lookup(self, task: Any) -> int | None:
        """The index of ``task``, or None if it is not in the space."""
        if self._tasks is None or self._index is None:
            return int(task) if is_index(task, self._n) else None
        task = _plain(task)
        try:
            index = self._index.get(task)
        except TypeError:  # unhashable, so not a task
            return None
        if index is None or type(self._tasks[index]) is not type(task):
            return None
        return index

    def _sample(self, rng: np.random.Generator) -> Hashable:
        return self.decode(int(rng.integers(self._n)))

    def contains(self, task: Any) -> bool:
        """Whether ``task`` is one of the tasks.

        Args:
            task: A candidate task.
        """
        return self._lookup(task) is not None

    def encode(self, task: Any) -> int:
        """Returns the position of ``task``.

        Args:
            task: A task of this space.
        """
        index = self._lookup(task)
        if index is None:
            raise self._task_error(task)
        return index

    def decode(self, encoding: Any) -> Hashable:
        """Returns the task at position ``encoding`` (a Python or numpy integer).

        Args:
            encoding: A task's encoding (for enumerable spaces, its index in ``range(num_tasks)``).
        """
        index = self._check_index(encoding)
        return index if self._tasks is None else self._tasks[index]

    def _key(self) -> Hashable:
        if self._tasks is None:
            return self._n
        return tuple((type(task), task) for task in self._tasks)  # types too: 1.0 is not the task 1

    def _arg_repr(self) -> str:
        """The constructor argument, abbreviated when there are many tasks."""
        if self._tasks is None:
            return str(self._n)
        if self._n <= _REPR_MAX_TASKS:
            return repr(self._tasks)
        shown = ", ".join(repr(task) for task in self._tasks[:3])
        return f"[{shown}, <{self._n - 4} more>, {self._tasks[-1]!r}]"

    def __repr__(self) -> str:
        return f"DiscreteTaskSpace({self._arg_repr()})"


def _index_tasks(tasks: list[Any]) -> dict[Hashable, int]:
    """Maps each task to its position, rejecting empty, duplicate and unhashable tasks."""
    if not tasks:
        raise ValueError("DiscreteTaskSpace needs at least one task, got an empty sequence")
    index: dict[Hashable, int] = {}
    for position, task in enumerate(tasks):
        try:
            hash(task)
        except TypeError:
            raise TypeError(f"DiscreteTaskSpace tasks must be hashable, got {task!r}") from None
        if task in index:
            raise ValueError(f"DiscreteTaskSpace tasks must be distinct, got {task!r} twice")
        index[task] = position
    return index


class MultiDiscreteTaskSpace(TupleTaskSpace):
    """Tasks are tuples picking one value per dimension, encoded by mixed-radix (row-major) index.

    Args:
        nvec_or_options: One entry per dimension, each either a count ``n`` (values ``0..n-1``)
            or a sequence of options, e.g. ``[3, 4]`` or ``[["easy", "hard"], [0.5, 1.0]]``.

    Lists and 1-D numpy arrays are accepted as tasks; decoded tasks are tuples of Python values.
    """

    def __init__(self, nvec_or_options: Sequence[int | Sequence[Hashable]]) -> None:
        if isinstance(nvec_or_options, (str, bytes)) or not isinstance(nvec_or_options, Iterable):
            raise TypeError(f"MultiDiscreteTaskSpace needs one entry per dimension, got {nvec_or_options!r}")
        self._dimensions = [DiscreteTaskSpace(entry) for entry in nvec_or_options]
        super().__init__(self._dimensions)

    @property
    def nvec(self) -> tuple[int, ...]:
        """The number of values of each dimension."""
        return tuple(space.num_tasks for space in self._dimensions)

    def __repr__(self) -> str:
        return f"MultiDiscreteTaskSpace([{', '.join(space._arg_repr() for space in self._dimensions)}])"
