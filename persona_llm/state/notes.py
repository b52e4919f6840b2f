"""What the state features did during one call, for the usage record and the span.

The usage wrapper (`persona_llm.usage.observed`) opens a `CallNotes` around each call when
state features are configured; the limiter, cache and guard write into it through
`current_notes()`, and the wrapper copies it into the `UsageRecord` and the span.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["CallNotes", "annotate", "current_notes", "noting", "noting_if", "record_fields"]


@dataclass
class CallNotes:
    """One call's state events.

    Attributes:
        waited_s: seconds spent waiting for rate-limit capacity.
        limited: the local limit that refused the call (``"openai/*: 500rpm"``), if any.
        cache: ``"hit"``, ``"miss"`` or None (no cache).
        store_errors: store operations that failed during the call.
    """

    waited_s: float = 0.0
    limited: str | None = None
    cache: str | None = None
    store_errors: int = 0


_NOTES: ContextVar[CallNotes | None] = ContextVar("persona_llm_call_notes", default=None)


def current_notes() -> CallNotes | None:
    """The notes of the call running in this context, if anyone reads them."""
    return _NOTES.get()


class noting:  # used as a function: ``with noting(notes)``
    """Publish `notes` for the calls made inside the block (keep it free of ``yield``).

    A class, not a ``@contextmanager`` generator: every limited or cached call opens one.
    """

    __slots__ = ("_notes", "_token")

    def __init__(self, notes: CallNotes) -> None:
        self._notes = notes

    def __enter__(self) -> CallNotes:
        self._token = _NOTES.set(self._notes)
        return self._notes

    def __exit__(self, *exc: object) -> None:
        _NOTES.reset(self._token)


_NOTHING: AbstractContextManager[None] = nullcontext()


def noting_if(notes: CallNotes | None) -> AbstractContextManager[Any]:
    """`noting(notes)`, or a shared do-nothing block when nobody collects notes."""
    return _NOTHING if notes is None else noting(notes)


def record_fields(notes: CallNotes | None) -> dict[str, Any]:
    """The `UsageRecord` fields of a call's notes (none without notes)."""
    if notes is None:
        return {}
    return {
        "cache": notes.cache,
        "waited_s": notes.waited_s,
        "limited": notes.limited,
        "store_errors": notes.store_errors,
    }


def annotate(span: Any, notes: CallNotes) -> None:
    """Put the state features' part of a call on its OpenTelemetry span."""
    if notes.cache is not None:
        span.set_attribute("persona_llm.cache", notes.cache)
    if notes.waited_s:
        span.set_attribute("persona_llm.rate_limit.wait_s", notes.waited_s)
    if notes.limited:
        span.set_attribute("persona_llm.rate_limit.refused", notes.limited)
    if notes.store_errors:
        span.set_attribute("persona_llm.state.errors", notes.store_errors)
