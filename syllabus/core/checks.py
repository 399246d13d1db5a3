"""Argument checks shared by the public entry points of the sync backends."""

from __future__ import annotations

import math
from typing import Any

from syllabus.core.curriculum import Curriculum
from syllabus.core.curriculum_wrapper import CurriculumWrapper


def check_curriculum(curriculum: Any, caller: str) -> Curriculum:
    """Returns ``curriculum`` if it is a [`Curriculum`][syllabus.core.curriculum.Curriculum].

    Args:
        curriculum: The object to check.
        caller: Name of the function that needs a curriculum, for the error message.

    Raises:
        TypeError: It is anything else (e.g. a curriculum already wrapped by a ``make_*_curriculum`` call).
    """
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


def check_seconds(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is a finite number of seconds > 0.

    Args:
        name: Name of the setting, for the error message.
        value: The setting's value.

    Raises:
        ValueError: It is not.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_count(name: str, value: Any, minimum: int) -> int:
    """Returns ``value`` as an int if it is an integer >= ``minimum``.

    Args:
        name: Name of the setting, for the error message.
        value: The setting's value.
        minimum: Smallest value allowed.

    Raises:
        ValueError: It is not.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
