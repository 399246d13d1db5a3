"""One setting scales every time limit of the test suite.

``SYLLABUS_TEST_TIMEOUT_SCALE`` (default 1) multiplies each test's pytest-timeout limit (see
``conftest.py``) and every bounded wait a test makes through :func:`scaled`. On a loaded machine set
it higher (``make test SYLLABUS_TEST_TIMEOUT_SCALE=3``): a deadlock still fails, only later.
"""

from __future__ import annotations

import os

SCALE_VARIABLE = "SYLLABUS_TEST_TIMEOUT_SCALE"


def _scale() -> float:
    raw = os.environ.get(SCALE_VARIABLE, "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE}={raw!r} is not a number (e.g. 1, 2.5)") from None
    if not value > 0:
        raise ValueError(f"{SCALE_VARIABLE}={raw!r} must be positive")
    return value


SCALE = _scale()


def scaled(seconds: float) -> float:
    """``seconds`` times the suite's timeout scale: the bound of one wait in a test."""
    return seconds * SCALE
