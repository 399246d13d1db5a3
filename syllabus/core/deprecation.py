"""Old import paths of modules that were renamed: they keep working, with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_module(
    old: str, *new: str, renamed: dict[str, tuple[str, str]] | None = None
) -> Callable[[str], Any]:
    """The module ``__getattr__`` of the old module ``old``, whose names now live in the modules ``new``.

    Each public name read from ``old`` is looked up in ``new`` in order and returned with a
    ``DeprecationWarning`` that names its new module.

    Args:
        old: Name of the old module (its ``__name__``).
        *new: Names of the modules that hold its names now.
        renamed: Old names (private ones too) that moved under another name: ``{old_name: (module, name)}``.

    Returns:
        The function to assign to the old module's ``__getattr__``.
    """

    def __getattr__(name: str) -> Any:
        if renamed and name in renamed:
            module_name, new_name = renamed[name]
            warnings.warn(
                f"{old} is deprecated: import {new_name} from {module_name}", DeprecationWarning, stacklevel=2
            )
            return getattr(importlib.import_module(module_name), new_name)
        if not name.startswith("_"):
            for module_name in new:
                module = importlib.import_module(module_name)
                if hasattr(module, name):
                    warnings.warn(
                        f"{old} is deprecated: import {name} from {module_name}",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    return getattr(module, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    return __getattr__
