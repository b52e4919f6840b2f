"""What the state features did during one call, for the usage record and the span.

The usage wrapper (`persona_llm.usage.observed`) opens a `CallNotes` around each call when
state features are configured; the limiter, cache and guard write into it through
`current_notes()`, and the wrapper copies it into the `UsageRecord` and the span.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from contextvars import Token
from typing import Any

from persona_llm.providers._raw import HEADER_SINK, HeaderSink

__all__ = ["CallNotes", "annotate", "current_notes", "noting", "noting_if", "record_fields"]


class CallNotes(HeaderSink):
    """One call's state events; also the block that publishes them (``with notes:``), and
    the sink of the headers a limited call collects inside it (`HeaderSink`).

    Each attribute reads as "nothing happened" (a class default) until a feature that acts
    sets it, so opening the notes of a call that no feature touches costs one bare object.

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
    _token: Token[HeaderSink | None]

    def __enter__(self) -> CallNotes:
        self._token = _NOTES.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _NOTES.reset(self._token)

    def __repr__(self) -> str:
        return (
            f"CallNotes(waited_s={self.waited_s!r}, limited={self.limited!r}, "
            f"cache={self.cache!r}, store_errors={self.store_errors!r})"
        )


_NOTES = HEADER_SINK  # one context variable per call for the notes and the headers


def current_notes() -> CallNotes | None:
    """The notes of the call running in this context, if anyone reads them."""
    found = _NOTES.get()
    return found if type(found) is CallNotes else None


def noting(notes: CallNotes) -> CallNotes:
    """Publish `notes` for the calls made inside the block: ``with noting(notes)`` (the
    notes are their own block; keep it free of ``yield``)."""
    return notes


_NOTHING: AbstractContextManager[None] = nullcontext()


def noting_if(notes: CallNotes | None) -> AbstractContextManager[Any]:
    """`noting(notes)`, or a shared do-nothing block when nobody collects notes."""
    return _NOTHING if notes is None else notes


def record_fields(notes: CallNotes | None) -> dict[str, Any]:
    """The `UsageRecord` fields of a call's notes (none when nothing happened: the
    record's defaults say the same)."""
    if notes is None or (
        notes.cache is None
        and notes.limited is None
        and not notes.waited_s
        and not notes.store_errors
    ):
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
