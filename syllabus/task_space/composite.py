"""Task spaces whose tasks are tuples or dicts of sub-tasks."""

from __future__ import annotations

import abc
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from syllabus.task_space.base import TaskSpace, TaskSpaceError


class _CompositeTaskSpace(TaskSpace):
    """Shared logic of tuple and dict task spaces.

    If every sub-space is enumerable, a task encodes to one mixed-radix index over the
    sub-encodings (row-major, like ``np.ravel_multi_index``). Otherwise it encodes to the same
    structure (tuple or dict) of sub-encodings.
    """

    def __init__(self, subspaces: Sequence[TaskSpace]) -> None:
        super().__init__()
        if not subspaces:
            raise ValueError(f"{type(self).__name__} needs at least one sub-space")
        for space in subspaces:
            if not isinstance(space, TaskSpace):
                raise TypeError(f"{type(self).__name__} sub-space {space!r} is not a TaskSpace")
        self._subspaces = tuple(subspaces)
        sizes = [space.num_tasks for space in self._subspaces]
        self._num_tasks = None if None in sizes else math.prod(n for n in sizes if n is not None)

    @abc.abstractmethod
    def _split(self, value: Any) -> tuple | None:
        """Splits a task (or structured encoding) into per-sub-space parts, or None if malformed."""

    @abc.abstractmethod
    def _join(self, parts: Iterable[Any]) -> Any:
        """Builds a task (or structured encoding) from per-sub-space parts."""

    @abc.abstractmethod
    def _gym_container(self, subspaces: list[gym.spaces.Space]) -> gym.spaces.Space:
        """Wraps the sub-spaces' gymnasium spaces into the matching gymnasium container."""

    @property
    def num_tasks(self) -> int | None:
        """The product of the sub-spaces' task counts, or None if any is not enumerable."""
        return self._num_tasks

    def _sample(self, rng: np.random.Generator) -> Any:
        return self._join(space.sample(rng) for space in self._subspaces)

    def contains(self, task: Any) -> bool:
        """Whether ``task`` has the space's structure and every part is in its sub-space."""
        parts = self._split(task)
        return parts is not None and all(s.contains(p) for s, p in zip(self._subspaces, parts, strict=True))

    def encode(self, task: Any) -> Any:
        """Encodes a task as a mixed-radix index (enumerable) or a structure of sub-encodings."""
        parts = self._split(task)
        if parts is None:
            raise self._task_error(task)
        try:
            codes = [space.encode(part) for space, part in zip(self._subspaces, parts, strict=True)]
        except TaskSpaceError as err:
            raise self._task_error(task) from err
        return self._join(codes) if self._num_tasks is None else self._ravel(codes)

    def decode(self, encoding: Any) -> Any:
        """Decodes a mixed-radix index or a structure of sub-encodings back to its task."""
        codes: Sequence[Any] | None
        if self._num_tasks is not None:
            codes = self._unravel(self._check_index(encoding))
        else:
            codes = self._split(encoding)
            if codes is None:
                raise self._encoding_error(encoding)
        try:
            return self._join(
                [space.decode(code) for space, code in zip(self._subspaces, codes, strict=True)]
            )
        except TaskSpaceError as err:
            raise self._encoding_error(encoding) from err

    def to_gym_space(self) -> gym.spaces.Space:
        """``Discrete(num_tasks)`` if enumerable, else the gymnasium container of sub-spaces."""
        if self.is_enumerable:
            return super().to_gym_space()
        return self._gym_container([space.to_gym_space() for space in self._subspaces])

    def _ravel(self, codes: Iterable[int]) -> int:
        index = 0
        for space, code in zip(self._subspaces, codes, strict=True):
            index = index * space.require_num_tasks("a mixed-radix index") + code
        return index

    def _unravel(self, index: int) -> list[int]:
        codes = []
        for space in reversed(self._subspaces):
            index, code = divmod(index, space.require_num_tasks("a mixed-radix index"))
            codes.append(code)
        return codes[::-1]


class TupleTaskSpace(_CompositeTaskSpace):
    """Tasks are tuples with one sub-task per sub-space (lists and 1-D arrays are accepted as input).

    Args:
        spaces: The sub-spaces, in order.
    """

    def __init__(self, spaces: Sequence[TaskSpace]) -> None:
        super().__init__(list(spaces))

    @property
    def spaces(self) -> tuple[TaskSpace, ...]:
        """The sub-spaces."""
        return self._subspaces

    def _split(self, value: Any) -> tuple | None:
        is_sequence = isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1)
        return tuple(value) if is_sequence and len(value) == len(self._subspaces) else None

    def _join(self, parts: Iterable[Any]) -> tuple:
        return tuple(parts)

    def _gym_container(self, subspaces: list[gym.spaces.Space]) -> gym.spaces.Space:
        return gym.spaces.Tuple(subspaces)

    def _valid_encodings(self) -> str:
        if self.is_enumerable:
            return super()._valid_encodings()
        return f"tuples of {len(self._subspaces)} sub-encodings"

    def _key(self) -> Hashable:
        return self._subspaces

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._subspaces)!r})"


class DictTaskSpace(_CompositeTaskSpace):
    """Tasks are dicts with one sub-task per key; keys keep the given order.

    The key order defines the encoding, so spaces with different key orders are not equal.

    Args:
        spaces: The sub-spaces by (string) key.
    """

    def __init__(self, spaces: Mapping[str, TaskSpace]) -> None:
        for key in spaces:
            if not isinstance(key, str):
                raise TypeError(f"DictTaskSpace keys must be strings, got {key!r}")
        self._keys = tuple(spaces)
        super().__init__(list(spaces.values()))

    @property
    def spaces(self) -> dict[str, TaskSpace]:
        """The sub-spaces by key (a copy)."""
        return dict(zip(self._keys, self._subspaces, strict=True))

    def _split(self, value: Any) -> tuple | None:
        if not isinstance(value, Mapping) or set(value) != set(self._keys):
            return None
        return tuple(value[key] for key in self._keys)

    def _join(self, parts: Iterable[Any]) -> dict[str, Any]:
        return dict(zip(self._keys, parts, strict=True))

    def _gym_container(self, subspaces: list[gym.spaces.Space]) -> gym.spaces.Space:
        return gym.spaces.Dict(list(zip(self._keys, subspaces, strict=True)))

    def _valid_encodings(self) -> str:
        if self.is_enumerable:
            return super()._valid_encodings()
        return f"dicts of sub-encodings with keys {list(self._keys)}"

    def _key(self) -> Hashable:
        return tuple(zip(self._keys, self._subspaces, strict=True))

    def __repr__(self) -> str:
        return f"DictTaskSpace({self.spaces!r})"
