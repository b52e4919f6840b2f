"""`MemoryLane`: one target's rate limits on the memory store, bound once to its windows.

The usual limited call on the memory store (the default) goes through a lane rather than
`MemoryStore.acquire`: the lane keeps direct references to the target's window and lease
objects, so admitting a call is one clock read, one lock and one record (shared by its
windows) appended to each, with no rule tuples, no token and no key lookups; the call's
reservation points at its record, so correcting it with the real usage is
``total += real - old`` in each token window.
The semantics are `MemoryStore.acquire`'s (same windows, leases and holds): when a window
is full, a concurrency limit reached, or the provider's headers hold the target, `take`
takes nothing and the limiter asks `MemoryStore.acquire`, which says how long to wait or
refuses, naming the limit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona_llm.types import Usage

__all__ = ["AMOUNT_CODES", "MemoryLane", "Window"]

#: Where a window of each unit reads a call's amount in the call's record
#: ``[at, 1, total, input, output, token, lease key]``.
AMOUNT_CODES = {"rpm": 1, "tpm": 2, "itpm": 3, "otpm": 4}


class Window:
    """The calls' shares of one sliding window, oldest first, and their sum.

    A share is a record ``[at, 1, total, input, output, token, lease key]`` read at the
    window's `code` (its unit: `AMOUNT_CODES`); a lane's call appends one record to each of
    its windows, `MemoryStore.acquire` one per rule with its amount in every place and a
    token, which `entries` finds it by. The deque keeps them in the order taken, so the
    oldest leave first.
    """

    __slots__ = ("code", "entries", "order", "total")

    def __init__(self) -> None:
        self.code = 1
        self.entries: dict[str, list[Any]] = {}
        self.order: deque[list[Any]] = deque()
        self.total = 0.0

    def expire(self, before: float) -> None:
        entries, order, code = self.entries, self.order, self.code
        while order and order[0][0] <= before:
            record = order.popleft()
            self.total -= record[code]
            if record[5] is not None:
                entries.pop(record[5], None)
        if not order:
            self.total = 0.0  # no drift from float sums


class MemoryLane:
    """What one target's calls take from the memory store's windows and leases.

    Args:
        lock, clock, holds: the store's lock, clock and provider holds (by key).
        hold_key: the target's hold key.
        windows: ``(window, limit, seconds)`` of each window rule, in order (each window's
            `code` set to its unit's).
        leases: ``(in-flight leases by key, limit, ttl)`` of each concurrency rule.
    """

    __slots__ = (
        "_clock",
        "_holds",
        "_leases",
        "_lock",
        "_windows",
        "corrected",
        "hold_key",
        "leased",
    )

    def __init__(
        self,
        lock: threading.Lock,
        clock: Callable[[], float],
        holds: dict[str, Any],
        hold_key: str,
        windows: Sequence[tuple[Window, float, float]],
        leases: Sequence[tuple[dict[Any, float], int, float]],
    ) -> None:
        self._lock, self._clock, self._holds, self.hold_key = lock, clock, holds, hold_key
        self._windows = tuple(windows)
        self._leases = tuple(leases)
        self.leased = bool(leases)  # a settle ends the call's leases
        #: the windows a settle corrects (token windows: a request counts 1 whatever the
        #: call used)
        self.corrected = tuple(window for window, _, _ in self._windows if window.code > 1)

    def take(self, inputs: int, outputs: int) -> list[Any] | None:
        """The call's share taken in every window and lease at once (its record), or None
        when a rule has no room now or a provider's hold applies (nothing taken: ask
        `MemoryStore.acquire`)."""
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, on every limited call
        try:
            holds = self._holds
            if holds and holds.get(self.hold_key):
                return None
            now = self._clock()
            record: list[Any] = [now, 1, inputs + outputs, inputs, outputs, None, None]
            for window, limit, span in self._windows:
                order = window.order
                if order and order[0][0] <= now - span:
                    window.expire(now - span)
                total = window.total + record[window.code]
                if total > limit:
                    self._undo(record)
                    return None
                order.append(record)
                window.total = total
            if self.leased:
                return self._lease(record, now)
        finally:
            lock.release()
        return record

    def _lease(self, record: list[Any], now: float) -> list[Any] | None:
        """`record`, its lease key leased in every concurrency rule (under the lock), or
        None with every share undone."""
        key = record[6] = object()
        for index, (leases, limit, ttl) in enumerate(self._leases):
            if len(leases) >= limit:
                for gone in [k for k, expires in leases.items() if expires <= now]:
                    del leases[gone]
                if len(leases) >= limit:
                    for earlier, _, _ in self._leases[:index]:
                        del earlier[key]
                    self._undo(record)
                    return None
            leases[key] = now + ttl
        return record

    def _undo(self, record: list[Any]) -> None:
        """Take `record` back out of the windows it was just appended to (under the lock:
        it is the newest there)."""
        for window, _, _ in self._windows:
            order = window.order
            if order and order[-1] is record:
                order.pop()
                window.total -= record[window.code]
                if not order:
                    window.total = 0.0  # no drift from float sums

    def settle(self, record: list[Any], amounts: tuple[int, int, int] | None) -> None:
        """Correct the call's record to `amounts` (``(total, input, output)``; None: keep
        the estimates) in the windows it is still in, and end its leases."""
        lock = self._lock
        lock.acquire()
        try:
            if amounts is not None and self.corrected:
                self._correct(record, (0, 1, *amounts))
            if self.leased:
                for leases, _, _ in self._leases:
                    leases.pop(record[6], None)
        finally:
            lock.release()

    def finish(self, record: list[Any], usage: Usage | None) -> None:
        """The call ended: its real `usage` replaces the estimates in its token windows
        (None: not reported, the estimates stay), reading only the counts they need, and
        its leases end."""
        if usage is None or not self.corrected:
            if self.leased:
                self.settle(record, None)
            return
        lock = self._lock
        lock.acquire()
        try:
            corrected = self.corrected
            if len(corrected) == 1:  # the usual: one token limit
                window = corrected[0]
                code = window.code
                if code == 2:
                    amount = usage.total_tokens
                elif code == 3:
                    amount = usage.prompt_tokens
                else:
                    amount = usage.completion_tokens
                order = window.order
                if order and order[0][0] <= record[0]:  # still in the window
                    window.total += amount - record[code]
                record[code] = amount
            else:
                real = (0, 1, usage.total_tokens, usage.prompt_tokens, usage.completion_tokens)
                self._correct(record, real)
            if self.leased:
                for leases, _, _ in self._leases:
                    leases.pop(record[6], None)
        finally:
            lock.release()

    def _correct(self, record: list[Any], real: tuple[int, ...]) -> None:
        """Replace the record's amounts with `real` (indexed as the record) in each token
        window it is still in (under the lock). The windows keep their records in time
        order and let the oldest go first, so a record is still in a window exactly when
        the window's oldest is no younger."""
        before = record[:5]
        for window in self.corrected:
            order, code = window.order, window.code
            if order and order[0][0] <= record[0]:
                window.total += real[code] - before[code]
        for code in (2, 3, 4):
            record[code] = real[code]
