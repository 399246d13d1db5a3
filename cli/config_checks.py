"""The value checks shared by the runner's schemas: the run's and each registry entry's.

Every check raises [`ConfigError`][syllabus.cli.errors.ConfigError] with one line naming the
key, the bad value and what is valid.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from syllabus.cli.errors import ConfigError

# A valid range: (low, high, low inclusive, high inclusive); None: unbounded.
Range = tuple[float | None, float | None, bool, bool]
PROBABILITY: Range = (0.0, 1.0, True, True)
POSITIVE: Range = (0.0, None, False, False)
NON_NEGATIVE: Range = (0.0, None, True, False)


def describe_range(bounds: Range) -> str:
    """``bounds`` in words, e.g. ``> 0`` or ``in [0, 1]``."""
    low, high, low_in, high_in = bounds
    if high is None:
        return f"{'>=' if low_in else '>'} {low:g}"
    return f"in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def check_range(key: str, value: float | None, bounds: Range) -> None:
    """Checks that ``value`` is a finite number within ``bounds`` (``None`` passes: the key is optional).

    Raises:
        ConfigError: Naming ``key``, the value and the valid range.
    """
    if value is None:
        return
    low, high, low_in, high_in = bounds
    ok = (
        math.isfinite(value)
        and (low is None or (value >= low if low_in else value > low))
        and (high is None or (value <= high if high_in else value < high))
    )
    if not ok:
        raise ConfigError(f"{key} must be a finite number {describe_range(bounds)}, got {value!r}")


def check_at_least(key: str, value: float, minimum: int, note: str = "") -> None:
    """Checks ``value >= minimum``; ``note`` (e.g. ``" (or null: all cores)"``) follows the bound.

    Raises:
        ConfigError: ``KEY must be >= MINIMUM, got VALUE``.
    """
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}{note}, got {value}")


def check_seconds(key: str, value: float) -> None:
    """Checks that a number of seconds is > 0.

    Raises:
        ConfigError: ``KEY must be > 0 seconds, got VALUE``.
    """
    if not value > 0:
        raise ConfigError(f"{key} must be > 0 seconds, got {value}")


def one_of(key: str, value: Any, choices: tuple[str, ...], what: str) -> None:
    """Checks that ``value`` is one of ``choices``, suggesting close names when it is not.

    Raises:
        ConfigError: ``KEY: unknown WHAT 'VALUE' (did you mean ...?); valid: ...``.
    """
    if value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    valid = (
        ", ".join(choices)
        if len(choices) <= 20
        else f"one of the {len(choices)} {what}s, e.g. {', '.join(choices[:3])}"
    )
    raise ConfigError(f"{key}: unknown {what} {value!r}{hint}; valid: {valid}")


def check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    """Checks a key with a fixed set of valid values (``None`` passes).

    Raises:
        ConfigError: ``KEY: invalid value 'VALUE'; valid choices: ...``.
    """
    if value is not None and value not in choices:
        raise ConfigError(f"{key}: invalid value {value!r}; valid choices: {', '.join(choices)}")


def check_positive_tasks(key: str, tasks: list[float], what: str) -> None:
    """Checks that every task (a half-width) is > 0; ``what`` says what a task is.

    Raises:
        ConfigError: Naming the first bad task.
    """
    bad = [t for t in tasks if not t > 0]
    if bad:
        raise ConfigError(f"{key}: {what} and must be > 0, got {bad[0]!r} in {list(tasks)!r}")
