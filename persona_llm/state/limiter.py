"""Client-side rate limits (``LLM_RATE_LIMITS``), shared by every worker on the store.

Before a call, `RateLimiter.acquire` reserves one request and an **estimate** of its tokens
in every limit that matches the target, atomically on the store; after the call,
`Reservation.settle` replaces the estimate with the real `usage` and ends the in-flight
lease. On a store where a settle of its own costs more than riding on the next reserve
(Redis), a correction that only shrinks a reservation is held and sent with this process's
next `acquire` (applied first, in the same atomic script), and the window over-counts
meanwhile (stricter, never looser); the rest is sent by the Redis store without waiting
for its reply. A limited call waits for one round trip. The estimate: see
`persona_llm.state.estimate`. On the memory store a call goes through its target's
`persona_llm.state.lane.MemoryLane` (the windows bound once, no rules or token per call)
and reaches `StateStore.acquire` only when it must wait or be refused.

A call that finds no room **waits** (sleeping, not spinning) until the limit has room, for
at most what is left of its deadline (``LLM_DEADLINE``, else ``LLM_TIMEOUT``). When the
store says the room comes later than that, or never (one call larger than a token limit),
it raises at once: `RateLimitError` with ``status_code=None``, ``local=True`` and
``retry_after``, whose message names our limit and the numbers. Like a provider's 429 it
fails over to the next target; the retry wrapper does not retry it (it already waited).

Windows slide: a limit of N per minute admits at most N calls in **any** 60-second
stretch, across all workers (the store keeps each call's time, not a per-minute counter).

The provider's own limits tighten ours (OpenAI and Azure ``x-ratelimit-remaining-*``,
Anthropic ``anthropic-ratelimit-*``, a 429's ``retry-after``; Gemini sends none): when a
limited call's reply says that less remains of a provider limit than that call needed,
`Reservation.observe` puts a **hold** on the target (``provider/model``) in the store, until
the reset the provider gave (see `persona_llm.state.holds`). Every worker's next `acquire`
checks the holds first: a call that needs more than remains waits for the reset within its
deadline, else raises the same local `RateLimitError`, naming the provider's limit. Only
targets that ``LLM_RATE_LIMITS`` limits read or obey the headers.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from persona_llm.errors import RateLimitError
from persona_llm.state.config import LimitEntry
from persona_llm.state.estimate import (
    DEFAULT_OUTPUT_TOKENS,
    Estimate,
    Tokens,
    estimate_chat,
    estimate_texts,
)
from persona_llm.state.guard import StoreGuard
from persona_llm.state.holds import NO_RESET_HOLD, held_back
from persona_llm.state.notes import current_notes
from persona_llm.state.reservation import LaneReservation, Reservation, Target, new_token
from persona_llm.state.store import (
    Admission,
    Correction,
    HoldRule,
    LeaseRule,
    Rule,
    StateStore,
    StoreError,
    WindowRule,
)

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "NO_RESET_HOLD",
    "Estimate",
    "LaneReservation",
    "RateLimiter",
    "Reservation",
    "estimate_chat",
    "estimate_texts",
]


_new = tuple.__new__
_object_new = object.__new__
MAX_PENDING = 64  # held-back corrections sent on their own once this many wait
_RESERVE = "reserve rate-limit capacity"


class RateLimiter:
    """Reserves capacity for calls in the limits of ``LLM_RATE_LIMITS``.

    Args:
        store: where the windows and leases live.
        guard: applies ``LLM_STATE_ON_ERROR`` when the store fails.
        entries: the parsed limits.
        window: seconds of a "per minute" window (60; shorter only in tests and benchmarks).
        lease_ttl: seconds after which a crashed worker's in-flight slot is freed.
        clock, sleep, asleep: monotonic time and the waits (tests pass their own).
    """

    def __init__(
        self,
        store: StateStore,
        guard: StoreGuard,
        entries: Sequence[LimitEntry],
        *,
        window: float = 60.0,
        lease_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.guard = guard
        self.entries = tuple(entries)
        self.window = window
        self.lease_ttl = lease_ttl
        self._clock, self._sleep, self._asleep = clock, sleep, asleep
        self._targets: dict[tuple[str, str], Target] = {}
        self._pending: list[Correction] = []  # shrinking corrections held for the next acquire
        self._pending_lock = threading.Lock()

    def _outgoing(
        self, adjust: list[Correction], release: list[tuple[str, str]], shrinking: bool
    ) -> tuple[list[Correction], list[tuple[str, str]]]:
        """What a settle sends now (asked only of a store that `defers_corrections`): on a
        store where that costs a round trip, corrections
        that only shrink a reservation wait for this process's next `acquire` (until then
        the window counts the larger estimate: stricter, never looser)."""
        if not adjust:
            return adjust, release
        with self._pending_lock:
            if shrinking and not release and len(self._pending) < MAX_PENDING:
                self._pending += adjust
                return [], []
            held, self._pending = self._pending, []
        return held + adjust, release

    def _held(self) -> list[Correction]:
        with self._pending_lock:
            held, self._pending = self._pending, []
        return held

    def target(self, provider: str, model: str) -> Target:
        """What never changes between calls of ``provider/model``: its entries and rules,
        and the store's fast path for them, built on its first call."""
        key = (provider, model)
        found = self._targets.get(key)
        if found is None:
            entries = tuple(e for e in self.entries if e.matches(provider, model))
            found = self._targets[key] = Target(provider, model, entries, self)
        return found

    def _plan(self, target: Target, estimate: Tokens) -> Reservation:
        inputs, outputs = estimate
        total = inputs + outputs
        # NamedTuples built by `tuple.__new__`: their own `__new__` is one more Python call
        rules: list[Rule] = [_new(HoldRule, (target.hold_key, total, inputs, outputs))]
        window = self.window
        for unit, basic in target.skeleton:
            if unit == "tpm":
                basic = _new(WindowRule, (basic.key, basic.limit, window, total))
            elif unit == "itpm":
                basic = _new(WindowRule, (basic.key, basic.limit, window, inputs))
            elif unit == "otpm":
                basic = _new(WindowRule, (basic.key, basic.limit, window, outputs))
            rules.append(basic)
        return Reservation(self, new_token(), estimate, target, rules)

    def _next_wait(
        self, admission: Admission, started: float, max_wait: float, context: tuple[Any, ...]
    ) -> float:
        """Seconds to sleep before asking again; raises when waiting cannot help."""
        left = max_wait - (self._clock() - started)
        if admission.wait < 0 or admission.wait > left:
            raise self._refused(admission, max_wait, *context)
        return min(admission.wait + random.uniform(0.001, 0.01), max(left, 0.0))

    # unasync: source limiter_acquire
    async def aacquire(
        self, provider: str, model: str, estimate: Tokens, max_wait: Callable[[], float]
    ) -> Reservation | LaneReservation | None:
        """Reserve room for one call, waiting up to ``max_wait()`` seconds (asked only when
        the call must wait; None: no limits apply, or the store failed under
        ``LLM_STATE_ON_ERROR=open``)."""
        target = self._targets.get((provider, model)) or self.target(provider, model)
        lane = target.lane
        if lane is not None:  # the memory store: no room now, or a hold, asks `acquire`
            taken = lane.take(*estimate)
            if taken is not None:
                fast = _object_new(LaneReservation)  # its `__init__` is one more call
                fast.target, fast.lane, fast.estimate, fast.record = target, lane, estimate, taken
                return fast
        elif not target.entries:
            return None
        reservation = self._plan(target, estimate)
        rules = reservation.rules
        started, slept, limit = self._clock(), False, -1.0
        while True:
            try:
                if self.guard.down_until:
                    self.guard.check()
                held = self._held() if self._pending else ()
                admission = await self.store.aacquire(rules, reservation.token, held)
            except StoreError as error:
                self.guard.failed(error, _RESERVE, provider, model)
                return None
            if admission.admitted:
                if slept:
                    self._waited(started)
                return reservation
            if limit < 0:
                limit = max_wait()
            context = (reservation, provider, model, started)
            slept = True
            await self._asleep(self._next_wait(admission, started, limit, context))

    # unasync: end

    # unasync: generated limiter_acquire (do not edit: scripts/unasync.py writes it)
    def acquire(
        self, provider: str, model: str, estimate: Tokens, max_wait: Callable[[], float]
    ) -> Reservation | LaneReservation | None:
        """Reserve room for one call, waiting up to ``max_wait()`` seconds (asked only when
        the call must wait; None: no limits apply, or the store failed under
        ``LLM_STATE_ON_ERROR=open``)."""
        target = self._targets.get((provider, model)) or self.target(provider, model)
        lane = target.lane
        if lane is not None:  # the memory store: no room now, or a hold, asks `acquire`
            taken = lane.take(*estimate)
            if taken is not None:
                fast = _object_new(LaneReservation)  # its `__init__` is one more call
                fast.target, fast.lane, fast.estimate, fast.record = target, lane, estimate, taken
                return fast
        elif not target.entries:
            return None
        reservation = self._plan(target, estimate)
        rules = reservation.rules
        started, slept, limit = self._clock(), False, -1.0
        while True:
            try:
                if self.guard.down_until:
                    self.guard.check()
                held = self._held() if self._pending else ()
                admission = self.store.acquire(rules, reservation.token, held)
            except StoreError as error:
                self.guard.failed(error, _RESERVE, provider, model)
                return None
            if admission.admitted:
                if slept:
                    self._waited(started)
                return reservation
            if limit < 0:
                limit = max_wait()
            context = (reservation, provider, model, started)
            slept = True
            self._sleep(self._next_wait(admission, started, limit, context))

    # unasync: end

    def _waited(self, started: float) -> None:
        notes = current_notes()
        if notes is not None:
            notes.waited_s += self._clock() - started

    def _refused(
        self,
        admission: Admission,
        max_wait: float,
        reservation: Reservation,
        provider: str,
        model: str,
        started: float,
    ) -> RateLimitError:
        unit, rule = reservation.units[admission.rule], reservation.rules[admission.rule]
        if isinstance(rule, HoldRule):
            self._note_refusal(f"{provider} {admission.hold}", started)
            return held_back(admission, max_wait, rule, provider, model)
        entries = reservation.target.entries
        entry = next(e for e in entries if rule.key.startswith(f"rl:{e.pattern}:"))
        limit = rule.limit
        if isinstance(rule, LeaseRule):
            used = f"{admission.used:g} of {limit:g} calls in flight"
        else:
            per = f"the last {self.window:g} s"
            used = f"{admission.used:g} of {limit:g} used in {per}, this call needs {rule.amount:g}"
        if admission.wait < 0:
            why = "this call alone is larger than the limit"
            retry_after = None
        else:
            why = f"no room within the call's {max_wait:g} s deadline"
            retry_after = round(admission.wait, 3)
        label = f"{entry.pattern}={limit:g}{unit}"
        self._note_refusal(label, started)
        return RateLimitError(
            f"local rate limit (LLM_RATE_LIMITS {label}) for {provider}/{model}: {used}; "
            f"{why}"
            + (f"; room again in {retry_after:g} s" if retry_after is not None else "")
            + " (not a provider 429: no request was sent)",
            retry_after=retry_after,
            local=True,
            provider=provider,
            model=model,
        )

    def _note_refusal(self, label: str, started: float) -> None:
        notes = current_notes()
        if notes is not None:
            notes.limited = label
            notes.waited_s += self._clock() - started
