"""Suite-wide settings: every test's pytest-timeout limit follows ``SYLLABUS_TEST_TIMEOUT_SCALE``."""

from __future__ import annotations

import pytest
from timeouts import SCALE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scales each test's timeout: its own ``@pytest.mark.timeout(N)``, else the ini ``timeout``."""
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker is not None and marker.args else default
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(seconds * SCALE), append=False)
