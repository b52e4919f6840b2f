"""dependency-injector's `containers` and `providers`, loaded without its `wiring` module.

``dependency_injector.containers`` imports ``dependency_injector.wiring`` at import time for
``Container.wire()``, and `wiring` imports ``werkzeug.local`` (all of werkzeug), Starlette and
FastAPI when they are installed: about 20 ms of a first call, for a feature persona-llm does not
use. While `containers` loads, a stand-in takes the `wiring` module's place; it forwards
``wire``/``unwire`` and any other attribute to the real module, imported on first use, so
``container.wire(...)`` and ``from dependency_injector.wiring import inject`` work as before
(the stand-in leaves `sys.modules` as soon as `containers` has loaded). If `containers` (or
`wiring`) is already loaded, nothing is done.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["containers", "di"]

_WIRING = "dependency_injector.wiring"


def _real_wiring() -> types.ModuleType:
    """The real `wiring` module, imported now if needed (the stand-in leaves sys.modules)."""
    if isinstance(sys.modules.get(_WIRING), _DeferredWiring):
        del sys.modules[_WIRING]
    return importlib.import_module(_WIRING)


def _wire(*args: Any, **kwargs: Any) -> Any:
    return _real_wiring().wire(*args, **kwargs)


def _unwire(*args: Any, **kwargs: Any) -> Any:
    return _real_wiring().unwire(*args, **kwargs)


class _DeferredWiring(types.ModuleType):
    """Stands in for ``dependency_injector.wiring`` while `containers` imports it."""

    wire = staticmethod(_wire)
    unwire = staticmethod(_unwire)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_wiring(), name)


def _import_containers() -> None:
    """Import ``dependency_injector.containers``, deferring `wiring` if neither is loaded."""
    if "dependency_injector.containers" in sys.modules or _WIRING in sys.modules:
        return
    stand_in = _DeferredWiring(_WIRING)
    sys.modules[_WIRING] = stand_in
    try:
        importlib.import_module("dependency_injector.containers")
    finally:
        if sys.modules.get(_WIRING) is stand_in:
            del sys.modules[_WIRING]


_import_containers()
from dependency_injector import containers  # noqa: E402  (after the stand-in, on purpose)
from dependency_injector import providers as di  # noqa: E402
