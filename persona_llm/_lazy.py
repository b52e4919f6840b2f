"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package that re-exports names of its modules imports all of them at once; a first call needs
only some (no pool, no fallbacks, no state features by default), and each module costs import
time in a cold process. `lazy_exports` gives the package a ``__getattr__`` that imports a
name's module the first time the name is read; the package keeps its ``TYPE_CHECKING`` imports
for type checkers and its ``__all__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of `package`, where `exports` maps name → module (relative).

    The value is cached in the package's namespace, so the next read is a plain lookup.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
