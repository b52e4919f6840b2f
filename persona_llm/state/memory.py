"""`MemoryStore`: the state store of one process (``LLM_STATE=memory``, the default).

Everything sits in dictionaries under one lock, so each operation is atomic across the
process's threads and asyncio tasks; nothing is shared with other processes. It implements
exactly the semantics of the Redis backend (same sliding windows, leases, breaker and
expiry), so the features behave the same on both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from persona_llm.state.lane import AMOUNT_CODES, MemoryLane, Window
from persona_llm.state.store import (
    ADMITTED,
    Admission,
    Correction,
    Hold,
    HoldRule,
    LeaseRule,
    Rule,
    StateStore,
    StoreInfo,
    WindowRule,
)

__all__ = ["MemoryStore"]

LEASE_POLL = 0.05  # seconds between looks at a full concurrency limit


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0
    probe_until: float = 0.0


@dataclass
class _Expiring:
    value: object
    expires: float | None = None


class MemoryStore(StateStore):
    """The in-process store.

    Args:
        clock: seconds, monotonic (tests pass a fake clock).
    """

    backend = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, Window] = {}
        self._leases: dict[str, dict[Any, float]] = {}  # key: {token (lane: a key): expires}
        self._breakers: dict[str, _Breaker] = {}
        self._values: dict[str, _Expiring] = {}
        # key: {limit: [until, remaining, at, rate]}: `remaining` at time `at`, refilling
        self._holds: dict[str, dict[str, list[float]]] = {}

    @property
    def url(self) -> str:
        """``memory``."""
        return "memory"

    def __repr__(self) -> str:
        return "MemoryStore()"

    # -- rate limits --------------------------------------------------------------------

    def acquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction] = ()
    ) -> Admission:
        """Take this call's share in every rule at once, or none of them."""
        with self._lock:
            for key, done, amount in corrections:
                self._adjust(key, done, amount)
            now = self._clock()
            windows = self._windows
            for index, rule in enumerate(rules):  # the usual window check inline: hot path
                if type(rule) is WindowRule:
                    window = windows.get(rule.key) or self._window(rule.key)
                    order = window.order
                    if order and order[0][0] <= now - rule.window:
                        window.expire(now - rule.window)
                    if window.total + rule.amount <= rule.limit:
                        continue
                    refused = self._full(window, rule, now)
                elif type(rule) is HoldRule:
                    held = self._held(rule, now) if rule.key in self._holds else None
                    if held is None:
                        continue
                    return Admission(False, held[1], index, held[2], held[0])
                else:
                    leased = self._check(rule, now)  # type: ignore[arg-type]
                    if leased is None:
                        continue
                    refused = leased
                return Admission(False, refused[0], index, refused[1])
            for rule in rules:  # admitted: take its share in every rule
                if type(rule) is WindowRule:
                    window = windows[rule.key]  # made above
                    amount = rule.amount
                    record = [now, amount, amount, amount, amount, token, None]
                    window.entries[token] = record
                    window.order.append(record)
                    window.total += rule.amount
                elif type(rule) is HoldRule:
                    found = self._holds.get(rule.key)
                    for name, hold in found.items() if found else ():
                        if hold[0] > now:
                            hold[1] -= rule.need(name)
                else:
                    self._leases[rule.key][token] = now + rule.ttl  # type: ignore[union-attr]
        return ADMITTED

    def lane(
        self, hold_key: str, rules: Sequence[tuple[str, WindowRule | LeaseRule]]
    ) -> MemoryLane:
        """The fast path of one target's ``(unit, rule)`` (`persona_llm.state.lane`)."""
        windows: list[tuple[Window, float, float]] = []
        leases: list[tuple[dict[Any, float], int, float]] = []
        with self._lock:
            for unit, rule in rules:
                if isinstance(rule, LeaseRule):
                    found = self._leases.setdefault(rule.key, {})
                    leases.append((found, rule.limit, rule.ttl))
                else:
                    window = self._windows.get(rule.key) or self._window(rule.key)
                    window.code = AMOUNT_CODES[unit]  # the key names the unit: never changes
                    windows.append((window, rule.limit, rule.window))
        return MemoryLane(self._lock, self._clock, self._holds, hold_key, windows, leases)

    def _window(self, key: str) -> Window:
        window = self._windows[key] = Window()
        return window

    def _held(self, rule: HoldRule, now: float) -> tuple[str, float, float] | None:
        """None when no live hold of `rule` refuses the call, else (limit, wait, remaining)."""
        holds = self._holds.get(rule.key)
        if not holds:
            return None
        for name, (until, remaining, at, rate) in list(holds.items()):
            if until <= now:
                del holds[name]
                continue
            left, need = remaining + rate * (now - at), rule.need(name)
            if left < need:
                wait = (need - left) / rate if rate > 0 else until - now
                return name, min(wait, until - now), left
        return None

    def hold(self, key: str, holds: Sequence[Hold]) -> None:
        """Hold calls of `key` by the provider's limits until their resets."""
        with self._lock:
            now = self._clock()
            found = self._holds.setdefault(key, {})
            for name, remaining, seconds, rate in holds:
                found[name] = [now + seconds, remaining, now, rate]

    def _check(self, rule: WindowRule | LeaseRule, now: float) -> tuple[float, float] | None:
        """None when `rule` has room, else (wait, used)."""
        if isinstance(rule, LeaseRule):
            leases = self._leases.get(rule.key)
            if leases is None:
                leases = self._leases[rule.key] = {}
            for token in [t for t, expires in leases.items() if expires <= now]:
                del leases[token]
            return (LEASE_POLL, len(leases)) if len(leases) + 1 > rule.limit else None
        window = self._windows.get(rule.key) or self._window(rule.key)
        window.expire(now - rule.window)
        if window.total + rule.amount <= rule.limit:
            return None
        return self._full(window, rule, now)

    @staticmethod
    def _full(window: Window, rule: WindowRule, now: float) -> tuple[float, float]:
        """(wait, used) of a window (expired) that has no room for `rule`'s amount now."""
        used = window.total
        if rule.amount > rule.limit:
            return -1.0, used
        need, freed = used + rule.amount - rule.limit, 0.0
        code = window.code
        for record in window.order:  # oldest first
            freed += record[code]
            at = record[0]
            if freed >= need:
                return max(at + rule.window - now, 0.0), used
        return rule.window, used  # pragma: no cover  # the sum covers `need`

    def adjust(self, key: str, token: str, amount: float) -> None:
        """Replace what the call `token` took in a window rule."""
        with self._lock:
            self._adjust(key, token, amount)

    def _adjust(self, key: str, token: str, amount: float) -> None:
        window = self._windows.get(key)
        if window is not None:
            record = window.entries.get(token)
            if record is not None:
                window.total += amount - record[window.code]
                record[1] = record[2] = record[3] = record[4] = amount

    def settle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> None:
        """Apply `corrections` and end the leases of `releases`, under one lock."""
        with self._lock:
            for key, token, amount in corrections:
                self._adjust(key, token, amount)
            leases = self._leases
            for key, token in releases:
                found = leases.get(key)
                if found is not None:
                    found.pop(token, None)

    def release(self, key: str, token: str) -> None:
        """End the call's lease."""
        with self._lock:
            self._leases.get(key, {}).pop(token, None)

    # -- breaker ------------------------------------------------------------------------

    def breaker_ready(self, keys: Sequence[str], probe_ttl: float) -> list[float]:
        """-1 per breaker that lets a call through, else seconds until it may."""
        with self._lock:
            now = self._clock()
            return [self._ready(self._breakers.get(key), now, probe_ttl) for key in keys]

    @staticmethod
    def _ready(breaker: _Breaker | None, now: float, probe_ttl: float) -> float:
        if breaker is None or not breaker.open_until:
            return -1.0
        if now < breaker.open_until:
            return breaker.open_until - now
        if now < breaker.probe_until:
            return breaker.probe_until - now
        breaker.probe_until = now + probe_ttl
        return -1.0

    def breaker_report(self, key: str, ok: bool, threshold: int, cooldown: float) -> bool:
        """Count a success or failure; True when it closed or opened the breaker."""
        with self._lock:
            now = self._clock()
            breaker = self._breakers.get(key)
            if ok:
                was_open = breaker is not None and bool(breaker.open_until)
                self._breakers.pop(key, None)
                return was_open
            breaker = self._breakers.setdefault(key, _Breaker())
            breaker.failures += 1
            half_open = bool(breaker.open_until) and now >= breaker.open_until
            if (not breaker.open_until and threshold and breaker.failures >= threshold) or (
                half_open
            ):
                breaker.open_until, breaker.probe_until = now + cooldown, 0.0
                return True
            return False

    # -- keyed usage --------------------------------------------------------------------

    def add_usage(self, key: str, amounts: Mapping[str, float], ttl: float | None) -> None:
        """Add `amounts` to the counters of `key`."""
        with self._lock:
            now = self._clock()
            entry = self._live(key, now)
            if entry is None:
                entry = self._values[key] = _Expiring({})
            counters = entry.value
            assert isinstance(counters, dict)
            for name, amount in amounts.items():
                counters[name] = counters.get(name, 0.0) + amount
            entry.expires = now + ttl if ttl else None

    def read_usage(self, key: str) -> dict[str, float]:
        """The counters of `key`."""
        with self._lock:
            entry = self._live(key, self._clock())
            return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- values -------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored values (None where missing or expired)."""
        values: list[bytes | None] = []
        with self._lock:  # `_live` inline: a memory cache hit reads one key this way
            now = self._clock()
            for key in keys:
                entry = self._values.get(key)
                if entry is not None and entry.expires is not None and entry.expires <= now:
                    del self._values[key]
                    entry = None
                value = None if entry is None else entry.value
                values.append(value if isinstance(value, bytes) else None)
        return values

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Store values for `ttl` seconds."""
        with self._lock:
            expires = self._clock() + ttl if ttl else None
            for key, value in items.items():
                self._values[key] = _Expiring(value, expires)

    def _live(self, key: str, now: float) -> _Expiring | None:
        entry = self._values.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= now:
            del self._values[key]
            return None
        return entry

    def info(self) -> StoreInfo:
        """Always reachable."""
        return StoreInfo("memory", "memory", "in-process", 0.0)
