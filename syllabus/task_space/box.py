"""A continuous task space: arrays within per-element bounds."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from syllabus.task_space.base import TaskSpace

_REPR_THRESHOLD = 6


class BoxTaskSpace(TaskSpace):
    """Tasks are arrays of a fixed shape and floating dtype with ``low <= task <= high``.

    Tasks given as other numeric types are cast to ``dtype``. A task of shape ``()`` may be a
    Python float and is returned as one; other tasks are returned as arrays. The encoding of a
    task is the task itself. The space is not enumerable.

    Args:
        low: Lower bounds (inclusive), broadcast to ``shape``. Must be finite.
        high: Upper bounds (inclusive), broadcast to ``shape``. Must be finite.
        shape: Shape of a task; by default the broadcast shape of ``low`` and ``high``.
        dtype: A floating dtype.
    """

    def __init__(
        self,
        low: ArrayLike,
        high: ArrayLike,
        shape: Sequence[int] | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"BoxTaskSpace needs a floating dtype, got {self.dtype}")
        try:
            if shape is None:
                shape = np.broadcast_shapes(np.shape(low), np.shape(high))
            self.shape = tuple(int(size) for size in shape)
            self.low = np.broadcast_to(np.asarray(low, self.dtype), self.shape).copy()
            self.high = np.broadcast_to(np.asarray(high, self.dtype), self.shape).copy()
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"BoxTaskSpace bounds low={low!r}, high={high!r} do not fit shape {shape!r}"
            ) from err
        if not (np.isfinite(self.low).all() and np.isfinite(self.high).all()):
            raise ValueError(f"BoxTaskSpace bounds must be finite, got low={low!r}, high={high!r}")
        if (self.low > self.high).any():
            raise ValueError(f"BoxTaskSpace needs low <= high, got low={low!r}, high={high!r}")

    @property
    def num_tasks(self) -> None:
        """Always None: a box is not enumerable."""
        return None

    def _canonical(self, value: Any) -> float | np.ndarray | None:
        """``value`` as a task (a new array, or a float for shape ``()``), or None if invalid."""
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):  # e.g. ragged nested lists
            return None
        if array.dtype.kind not in "iuf" or array.shape != self.shape:
            return None
        with np.errstate(over="ignore"):
            array = array.astype(self.dtype)
        # The bounds are finite, so this also rejects NaN and infinities.
        if not ((self.low <= array).all() and (array <= self.high).all()):
            return None
        return float(array) if self.shape == () else array

    def _sample(self, rng: np.random.Generator) -> float | np.ndarray:
        task = self._canonical(rng.uniform(self.low, self.high))
        assert task is not None  # uniform draws lie within the (finite) bounds
        return task

    def contains(self, task: Any) -> bool:
        """Whether ``task`` is numeric, has the space's shape and lies within the bounds.

        Args:
            task: A candidate task.
        """
        return self._canonical(task) is not None

    def encode(self, task: Any) -> float | np.ndarray:
        """Returns ``task`` as a new array of the space's dtype (a float for shape ``()``).

        Args:
            task: A task of this space.
        """
        encoding = self._canonical(task)
        if encoding is None:
            raise self._task_error(task)
        return encoding

    def decode(self, encoding: Any) -> float | np.ndarray:
        """Returns ``encoding`` as a new array of the space's dtype (a float for shape ``()``).

        Args:
            encoding: A task's encoding (for enumerable spaces, its index in ``range(num_tasks)``).
        """
        task = self._canonical(encoding)
        if task is None:
            raise self._encoding_error(encoding)
        return task

    def to_gym_space(self) -> gym.spaces.Box:
        """The equivalent gymnasium ``Box``."""
        return gym.spaces.Box(self.low, self.high, self.shape, self.dtype.type)

    def _valid_encodings(self) -> str:
        return f"{self.dtype} arrays of shape {self.shape} within the bounds"

    def _key(self) -> Hashable:
        return self.shape, self.dtype.str, self.low.tobytes(), self.high.tobytes()

    def __repr__(self) -> str:
        return f"BoxTaskSpace({_bound_repr(self.low)}, {_bound_repr(self.high)}, {self.shape}, {self.dtype})"


def _bound_repr(bound: np.ndarray) -> str:
    """A scalar if all elements are equal, else the (abbreviated) array."""
    values = np.unique(bound)
    if values.size == 1:
        return repr(values[0].item())
    return np.array2string(bound, separator=", ", threshold=_REPR_THRESHOLD)
