"""Packages whose names are imported from their modules on first use (``__getattr__`` of PEP 562)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str,
    module_of: Mapping[str, str],
    missing_dependency: Callable[[str, str, ModuleNotFoundError], Exception | None] | None = None,
) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` that imports each name from its module on first use.

    A name, once imported, is stored in the package, so later lookups do not call ``__getattr__``.

    Args:
        package: The package's ``__name__``.
        module_of: Each public name -> the full name of the module that defines it.
        missing_dependency: Called with the name, its module and the ``ModuleNotFoundError`` when the
            module needs a package that is not installed; returns the error to raise instead (``None``:
            the original one).

    Returns:
        The function to assign to the package's ``__getattr__``.
    """

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            imported = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            error = missing_dependency(name, module, exc) if missing_dependency is not None else None
            if error is None:
                raise
            raise error from None
        value = getattr(imported, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
