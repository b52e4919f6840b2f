"""`MemoryLane`: one target's rate limits on the memory store, bound once to its windows.

The usual limited call on the memory store (the default) goes through a lane rather than
`MemoryStore.acquire`: the lane keeps direct references to the target's window and lease
objects, so admitting a call is one clock read, one lock and one record appended per
window, with no rule tuples, no token and no key lookups; the call's reservation points
at the records it took, so correcting one with the real usage is ``total += real - old``.
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

#: What a window of each unit counts per call, as an index into ``(1, total, input, output)``.
AMOUNT_CODES = {"rpm": 0, "tpm": 1, "itpm": 2, "otpm": 3}


class Window:
    """The calls' shares of one sliding window, oldest first, and their sum.

    Each share is a small mutable record ``[at, amount, token]``: the deque holds them in
    the order they were taken (so the oldest leave first), `entries` finds those taken
    with a token (`MemoryStore.acquire`; a lane's reservation points at its records
    itself, token None). A record that left the window gets ``at = None``, so a late
    correction of it changes nothing.
    """

    __slots__ = ("entries", "order", "total")

    def __init__(self) -> None:
        self.entries: dict[str, list[Any]] = {}
        self.order: deque[list[Any]] = deque()
        self.total = 0.0

    def expire(self, before: float) -> None:
        entries, order = self.entries, self.order
        while order and order[0][0] <= before:
            record = order.popleft()
            self.total -= record[1]
            record[0] = None
            if record[2] is not None:
                entries.pop(record[2], None)
        if not order:
            self.total = 0.0  # no drift from float sums


class MemoryLane:
    """What one target's calls take from the memory store's windows and leases.

    Args:
        lock, clock, holds: the store's lock, clock and provider holds (by key).
        hold_key: the target's hold key.
        windows: ``(window, limit, seconds, amount code)`` of each window rule, in order.
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
        windows: Sequence[tuple[Window, float, float, int]],
        leases: Sequence[tuple[dict[Any, float], int, float]],
    ) -> None:
        self._lock, self._clock, self._holds, self.hold_key = lock, clock, holds, hold_key
        self._windows = tuple(windows)
        self._leases = tuple(leases)
        self.leased = bool(leases)  # a settle ends the call's leases
        #: ``(window, index of its record, amount code)`` of the windows a settle corrects
        #: (token windows; a request counts 1 whatever the call used)
        self.corrected = tuple(
            (window, index, code) for index, (window, _, _, code) in enumerate(windows) if code
        )

    def take(self, inputs: int, outputs: int) -> list[Any] | None:
        """The call's share taken in every window and lease at once: its records (then its
        lease key, when a concurrency limit applies), or None when a rule has no room now
        or a provider's hold applies (nothing taken: ask `MemoryStore.acquire`)."""
        amounts = (1, inputs + outputs, inputs, outputs)
        taken: list[Any] = []
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, on every limited call
        try:
            holds = self._holds
            if holds and holds.get(self.hold_key):
                return None
            now = self._clock()
            for window, limit, span, code in self._windows:
                order = window.order
                if order and order[0][0] <= now - span:
                    window.expire(now - span)
                amount = amounts[code]
                if window.total + amount > limit:
                    self._undo(taken)
                    return None
                record = [now, amount, None]
                order.append(record)
                window.total += amount
                taken.append(record)
            if self.leased:
                return self._lease(taken, now)
        finally:
            lock.release()
        return taken

    def _lease(self, taken: list[Any], now: float) -> list[Any] | None:
        """`taken` and the call's lease key, leased in every concurrency rule (under the
        lock), or None with every share undone."""
        key = object()
        for index, (leases, limit, ttl) in enumerate(self._leases):
            if len(leases) >= limit:
                for gone in [k for k, expires in leases.items() if expires <= now]:
                    del leases[gone]
                if len(leases) >= limit:
                    for earlier, _, _ in self._leases[:index]:
                        del earlier[key]
                    self._undo(taken)
                    return None
            leases[key] = now + ttl
        taken.append(key)
        return taken

    def _undo(self, taken: list[Any]) -> None:
        """Give back the records just appended (under the lock: they are the newest)."""
        for (window, _, _, _), record in zip(self._windows, taken, strict=False):
            window.order.pop()
            window.total -= record[1]
            record[0] = None
            if not window.order:
                window.total = 0.0  # no drift from float sums

    def settle(self, taken: list[Any], amounts: tuple[int, int, int, int] | None) -> None:
        """Correct the call's token records to ``amounts[code]`` (``(1, total, input,
        output)``; None: keep the estimates) and end its leases."""
        lock = self._lock
        lock.acquire()
        try:
            if amounts is not None:
                for window, index, code in self.corrected:
                    record = taken[index]
                    amount = amounts[code]
                    if record[0] is not None and record[1] != amount:
                        window.total += amount - record[1]
                        record[1] = amount
            if self.leased:
                key = taken[-1]
                for leases, _, _ in self._leases:
                    leases.pop(key, None)
        finally:
            lock.release()

    def settle_usage(self, taken: list[Any], usage: Usage) -> None:
        """`settle` with a call's real usage, reading only the counts its windows need."""
        lock = self._lock
        lock.acquire()
        try:
            for window, index, code in self.corrected:
                record = taken[index]
                if code == 1:
                    amount = usage.total_tokens
                elif code == 2:
                    amount = usage.prompt_tokens
                else:
                    amount = usage.completion_tokens
                if record[0] is not None and record[1] != amount:
                    window.total += amount - record[1]
                    record[1] = amount
            if self.leased:
                key = taken[-1]
                for leases, _, _ in self._leases:
                    leases.pop(key, None)
        finally:
            lock.release()
