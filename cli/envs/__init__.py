"""The runner's envs: one module per ``env=`` option, each with its ``ENTRIES`` ([`EnvEntry`][syllabus.cli.registry.EnvEntry]).

Adding an env is one module here (its config schema, checks and builders) and ``configs/env/<name>.yaml``.
"""

from __future__ import annotations

import importlib
from typing import Any

from syllabus.cli.errors import MissingDependencyError


def import_env(name: str, attribute: str, extra: str) -> Any:
    """``attribute`` of ``syllabus.envs.<name>``, after checking that the env's package imports.

    Raises:
        MissingDependencyError: The env's package does not import; the message names ``extra``.
    """
    try:
        module = importlib.import_module(f"syllabus.envs.{name}")
        getattr(module, f"import_{name}")()
    except ImportError as exc:
        hint = (
            ""
            if "pip install" in str(exc)
            else f'; install it with: pip install "syllabus-curriculum[{extra}]"'
        )
        raise MissingDependencyError(f"env={name} needs an optional dependency: {exc}{hint}") from None
    return getattr(module, attribute)
