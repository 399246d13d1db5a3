"""Argument checks of the library's public entry points: one set of rules for every number and curriculum.

Numbers follow the same rules everywhere: a Python or numpy integer (``np.int64(3)``) is an integer, a
Python or numpy int or float is a number, and ``bool`` (also ``np.bool_``) is never either. Checks return
the value as a Python ``int`` or ``float``. Messages read ``NAME must be ..., got VALUE``.

This module imports nothing of ``syllabus`` at import time, so every layer (the task spaces too) can use it.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

if TYPE_CHECKING:
    from syllabus.core.curriculum import Curriculum


def is_integer(value: Any) -> TypeGuard[int | np.integer]:
    """Whether ``value`` is a Python or numpy integer (not a bool).

    Args:
        value: The value to test.
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float | np.integer | np.floating]:
    """Whether ``value`` is a Python or numpy int or float (not a bool); NaN and infinities are numbers.

    Args:
        value: The value to test.
    """
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_count(name: str, value: Any, minimum: int, *, maximum: int | None = None, note: str = "") -> int:
    """Returns ``value`` as an int if it is an integer >= ``minimum`` (and <= ``maximum`` when given).

    Args:
        name: Name of the setting, for the error message.
        value: The setting's value.
        minimum: Smallest value allowed.
        maximum: Largest value allowed; ``None`` for no limit.
        note: What the value means, added in parentheses to the error message.

    Raises:
        ValueError: It is not.
    """
    if is_integer(value) and minimum <= value and (maximum is None or value <= maximum):
        return int(value)
    raise ValueError(f"{name} must be {_integer_range(minimum, maximum, note)}, got {value!r}")


def check_optional_count(
    name: str, value: Any, minimum: int, *, maximum: int | None = None, note: str = ""
) -> int | None:
    """Returns ``None`` for ``None``, else what [`check_count`][syllabus.core.checks.check_count] returns.

    Args:
        name: Name of the setting, for the error message.
        value: The setting's value.
        minimum: Smallest value allowed.
        maximum: Largest value allowed; ``None`` for no limit.
        note: What the value means, added in parentheses to the error message.

    Raises:
        ValueError: ``value`` is neither ``None`` nor such an integer.
    """
    if value is None:
        return None
    if is_integer(value) and minimum <= value and (maximum is None or value <= maximum):
        return int(value)
    raise ValueError(f"{name} must be None or {_integer_range(minimum, maximum, note)}, got {value!r}")


def _integer_range(minimum: int, maximum: int | None, note: str) -> str:
    limits = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    return f"an integer {limits}{f' ({note})' if note else ''}"


def check_finite(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is a finite number.

    Args:
        name: Name of the value, for the error message.
        value: The value to check.

    Raises:
        ValueError: It is not a number, or it is NaN or infinite.
    """
    if not is_number(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_number(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False, open_high: bool = False
) -> float:
    """Returns ``value`` as a float if it is a number in the interval from ``low`` to ``high`` (NaN never is).

    Args:
        name: Name of the value, for the error message.
        value: The value to check.
        low: Lower end of the valid interval.
        high: Upper end of the valid interval.
        open_low: Exclude ``low`` itself.
        open_high: Exclude ``high`` itself.

    Raises:
        ValueError: It is not.
    """
    if is_number(value):
        number = float(value)
        if (low < number if open_low else low <= number) and (number < high if open_high else number <= high):
            return number
    interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def check_positive(name: str, value: Any, *, unit: str = "") -> float:
    """Returns ``value`` as a float if it is a finite number > 0.

    Args:
        name: Name of the value, for the error message.
        value: The value to check.
        unit: What the number counts (e.g. ``"seconds"``), for the error message.

    Raises:
        ValueError: It is not.
    """
    if is_number(value) and 0 < value < math.inf:
        return float(value)
    raise ValueError(f"{name} must be a finite number{f' of {unit}' if unit else ''} > 0, got {value!r}")


def check_seconds(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is a finite number of seconds > 0.

    Args:
        name: Name of the setting, for the error message.
        value: The setting's value.

    Raises:
        ValueError: It is not.
    """
    return check_positive(name, value, unit="seconds")


def check_progress(progress: Any) -> float:
    """Returns ``progress``, a task's progress an environment reported, as a float if it is a number in [0, 1].

    Args:
        progress: The value of ``info["task_completion"]``.

    Raises:
        ValueError: It is not.
    """
    if is_number(progress) and 0.0 <= progress <= 1.0:  # also rejects NaN
        return float(progress)
    raise ValueError(f"task progress must be a number in [0, 1] (info['task_completion']), got {progress!r}")


def check_sample_count(k: Any) -> int:
    """Returns ``k``, the number of tasks to sample, as an int if it is an integer >= 0.

    Args:
        k: The number of tasks asked for.

    Raises:
        ValueError: It is not.
    """
    return check_count("k", k, 0, note="the number of tasks to sample")


def check_episode(episode_return: Any, length: Any) -> None:
    """Checks the values of an episode update.

    Args:
        episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
        length: Number of steps the episode took.

    Raises:
        ValueError: ``episode_return`` is not a finite number or ``length`` not an integer >= 0.
    """
    if isinstance(episode_return, MutableMapping):
        raise ValueError(
            f"episode_return must be a number, got {episode_return!r} (per-agent returns from a PettingZoo "
            "sync wrapper: wrap the curriculum in MultiagentSharedCurriculumWrapper or "
            "MultiagentIndependentCurriculumWrapper)"
        )
    check_finite("episode_return", episode_return)
    check_count("length", length, 0, note="steps in the episode")


def check_curriculum(curriculum: Any, caller: str) -> Curriculum:
    """Returns ``curriculum`` if it is a [`Curriculum`][syllabus.core.curriculum.Curriculum].

    Args:
        curriculum: The object to check.
        caller: Name of the function that needs a curriculum, for the error message.

    Raises:
        TypeError: It is anything else (e.g. a curriculum already wrapped by a ``make_*_curriculum`` call).
    """
    # Imported here: the curriculum module itself uses this module's checks.
    from syllabus.core.curriculum import Curriculum
    from syllabus.core.curriculum_wrapper import CurriculumWrapper

    if isinstance(curriculum, CurriculumWrapper):
        raise TypeError(
            f"{caller}: curriculum must be a syllabus Curriculum, got {curriculum!r}, which a make_*_curriculum "
            "call already serves: pass the curriculum itself"
        )
    if not isinstance(curriculum, Curriculum):
        raise TypeError(
            f"{caller}: curriculum must be a syllabus Curriculum (e.g. DomainRandomization(task_space)), "
            f"got {curriculum!r}"
        )
    return curriculum
