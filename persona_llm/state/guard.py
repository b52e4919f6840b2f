"""`StoreGuard`: what an LLM call does when the state store fails.

``LLM_STATE_ON_ERROR=open`` (default): the call proceeds as if the feature were off (no
limit, no shared breaker, no budget check), with one WARNING per minute and a count in the
usage report. ``closed``: the call is refused with a retryable `ProviderUnavailableError`
that names the store. Bookkeeping after a call (correcting a reservation, adding spend) is
never refused — the call already happened — and a cache that fails is a miss in both modes.

After a failure the guard does not ask the store again for `pause` seconds (one second):
a store that is down or slow then costs at most one timeout per second, not one per store
operation of every call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from persona_llm.errors import ProviderUnavailableError
from persona_llm.state.notes import current_notes
from persona_llm.state.store import StoreError

__all__ = ["StoreGuard", "StoreSkipped"]

logger = logging.getLogger("persona_llm.state")

T = TypeVar("T")


class StoreSkipped(StoreError):
    """The store failed a moment ago, so this operation was not even tried."""


class StoreGuard:
    """Applies ``LLM_STATE_ON_ERROR`` to store failures; counts and logs them.

    Args:
        url: the store's redacted URL, for messages.
        on_error: ``"open"`` or ``"closed"``.
        pause: seconds during which a failed store is not asked again.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        url: str,
        on_error: Literal["open", "closed"] = "open",
        *,
        pause: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.on_error = on_error
        self.pause = pause
        self._clock = clock
        self._lock = threading.Lock()
        # when a failure pauses the store until (0: never failed); the hot paths look at it
        # and call `check` only when it is set
        self.down_until = 0.0
        self._warned_at: float | None = None
        self.errors = 0

    def check(self) -> None:
        """Raise `StoreSkipped` while a recent failure pauses the store."""
        if self.down_until and self._clock() < self.down_until:
            raise StoreSkipped(f"state store {self.url} failed less than {self.pause:g} s ago")

    def failed(self, error: StoreError, what: str, provider: str, model: str) -> None:
        """Count `error`; raise for ``closed`` when `what` gates a call, else return."""
        self.note(error, what)
        if self.on_error == "closed":
            raise ProviderUnavailableError(
                f"the state store ({self.url}) could not {what}: {error}; "
                "LLM_STATE_ON_ERROR=closed refuses calls while the store fails",
                provider=provider,
                model=model,
                retryable=True,
            ) from None

    def note(self, error: StoreError, what: str) -> None:
        """Count and (at most once a minute) log a failure that refuses nothing."""
        now = self._clock()
        with self._lock:
            self.errors += 1
            if not isinstance(error, StoreSkipped):
                self.down_until = now + self.pause
            warn = self._warned_at is None or now - self._warned_at >= 60.0
            if warn:
                self._warned_at = now
        notes = current_notes()
        if notes is not None:
            notes.store_errors += 1
        if warn:
            logger.warning(
                "state store %s failed (%s) on %s; LLM_STATE_ON_ERROR=%s: %s "
                "(logged once a minute; see store_errors in the usage report)",
                self.url,
                error,
                what,
                self.on_error,
                "calls proceed without limits" if self.on_error == "open" else "calls refused",
            )

    def run(self, what: str, call: Callable[[], T]) -> T:
        """`call()`, unless the store is paused; `StoreError` propagates."""
        self.check()
        return call()
