"""The current call's deadline, readable by every layer (core: no persona_llm imports).

The reliability wrappers fix the moment a call must end (``LLM_DEADLINE``) and publish it
here, with the clock it is measured by, for the duration of each step of the call; the
provider adapters read `seconds_left` to stop waiting for a reply when the deadline passes.
A stream publishes it only until its first visible chunk (the part that is retried and
failed over); after that the stream's own idle bound applies.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

__all__ = ["CALL_DEADLINE", "Deadline", "seconds_left"]

Deadline = tuple[float, Callable[[], float]]
"""The moment the call must end and the clock that moment is measured by."""

CALL_DEADLINE: ContextVar[Deadline | None] = ContextVar("persona_llm_call_deadline", default=None)


def seconds_left() -> float | None:
    """Seconds until the current call's deadline (negative once past it); None: no deadline."""
    current = CALL_DEADLINE.get()
    if current is None:
        return None
    moment, clock = current
    return moment - clock()
