"""Client-side rate limits (``LLM_RATE_LIMITS``), shared by every worker on the store.

Before a call, `RateLimiter.acquire` reserves one request and an **estimate** of its tokens
in every limit that matches the target, atomically on the store; after the call,
`Reservation.settle` replaces the estimate with the real `usage` and ends the in-flight
lease. On a store where a settle of its own costs more than riding on the next reserve
(Redis), a correction that only shrinks a reservation is held and sent with this process's
next `acquire` (applied first, in the same atomic script), and the window over-counts
meanwhile (stricter, never looser); the rest is sent by the Redis store without waiting
for its reply. A limited call waits for one round trip. The estimate: see
`persona_llm.state.estimate`.

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
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_llm.errors import RateLimitError
from persona_llm.state.config import LimitEntry
from persona_llm.state.estimate import (
    DEFAULT_OUTPUT_TOKENS,
    Estimate,
    estimate_chat,
    estimate_texts,
)
from persona_llm.state.guard import StoreGuard
from persona_llm.state.holds import NO_RESET_HOLD, held_back, hold_rule, holds_from
from persona_llm.state.notes import current_notes
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
from persona_llm.types import Usage

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "NO_RESET_HOLD",
    "Estimate",
    "RateLimiter",
    "Reservation",
    "estimate_chat",
    "estimate_texts",
]


MAX_PENDING = 64  # held-back corrections sent on their own once this many wait
_RESERVE = "reserve rate-limit capacity"
_HOLD = "hold calls by the provider's rate limits"


@dataclass
class Reservation:
    """What one admitted call holds; `settle` it once the call ended."""

    limiter: RateLimiter
    token: str
    estimate: Estimate
    rules: list[tuple[str, Rule]] = field(default_factory=list)  # (unit, rule)

    def _updates(
        self, usage: Usage | None, failed: bool
    ) -> tuple[list[Correction], list[tuple[str, str]], bool]:
        """The corrections, the leases to end, and whether every correction only shrinks."""
        adjust: list[Correction] = []
        release: list[tuple[str, str]] = []
        shrinking = True
        for unit, rule in self.rules:
            if isinstance(rule, LeaseRule):
                release.append((rule.key, self.token))
                continue
            if isinstance(rule, HoldRule) or unit == "rpm":
                continue
            if usage is not None:
                real = {"tpm": usage.total_tokens, "itpm": usage.prompt_tokens}
                amount = real.get(unit, usage.completion_tokens)
            elif failed:  # nothing generated; the input may still count at the provider
                amount = {"otpm": 0}.get(unit, self.estimate.input_tokens)
            else:
                continue  # no usage reported: keep the estimate
            if amount != rule.amount:
                adjust.append((rule.key, self.token, amount))
                shrinking = shrinking and amount < rule.amount
        return adjust, release, shrinking

    def settle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Replace the estimate with the real usage and end the lease (never raises)."""
        adjust, release = self.limiter._outgoing(*self._updates(usage, failed))
        if not adjust and not release:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            store.settle(adjust, release)
        except StoreError as error:
            guard.note(error, "settle a rate-limit reservation")

    async def asettle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Asyncio twin of `settle`."""
        adjust, release = self.limiter._outgoing(*self._updates(usage, failed))
        if not adjust and not release:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            await store.asettle(adjust, release)
        except StoreError as error:
            guard.note(error, "settle a rate-limit reservation")

    def _hold_rule(self) -> HoldRule:
        rule = self.rules[0][1]  # `RateLimiter._plan` puts it first
        assert isinstance(rule, HoldRule)
        return rule

    def observe(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Hold the target's calls by what the provider's rate-limit headers in `replies`
        (the headers of the call's replies) and a 429's ``retry-after`` say (never raises)."""
        holds = holds_from(self._hold_rule(), replies, error)
        if not holds:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            store.hold(self._hold_rule().key, holds)
        except StoreError as failure:
            guard.note(failure, _HOLD)

    async def aobserve(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Asyncio twin of `observe`."""
        holds = holds_from(self._hold_rule(), replies, error)
        if not holds:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            await store.ahold(self._hold_rule().key, holds)
        except StoreError as failure:
            guard.note(failure, _HOLD)


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
        self._matching: dict[tuple[str, str], tuple[LimitEntry, ...]] = {}
        self._skeletons: dict[LimitEntry, tuple[tuple[str, WindowRule | LeaseRule], ...]] = {}
        self._pending: list[Correction] = []  # shrinking corrections held for the next acquire
        self._pending_lock = threading.Lock()

    def _outgoing(
        self, adjust: list[Correction], release: list[tuple[str, str]], shrinking: bool
    ) -> tuple[list[Correction], list[tuple[str, str]]]:
        """What a settle sends now. On a store where that costs a round trip, corrections
        that only shrink a reservation wait for this process's next `acquire` (until then
        the window counts the larger estimate: stricter, never looser)."""
        if not self.store.defers_corrections or not adjust:
            return adjust, release
        with self._pending_lock:
            if shrinking and not release and len(self._pending) < MAX_PENDING:
                self._pending += adjust
                return [], []
            held, self._pending = self._pending, []
        return held + adjust, release

    def _held(self) -> list[Correction]:
        if not self._pending:  # the usual case on the memory store: no lock taken
            return []
        with self._pending_lock:
            held, self._pending = self._pending, []
        return held

    def limits_for(self, provider: str, model: str) -> tuple[LimitEntry, ...]:
        """The entries that apply to ``provider/model`` (cached)."""
        key = (provider, model)
        found = self._matching.get(key)
        if found is None:
            found = self._matching[key] = tuple(
                e for e in self.entries if e.matches(provider, model)
            )
        return found

    def _skeleton(self, entry: LimitEntry) -> tuple[tuple[str, WindowRule | LeaseRule], ...]:
        """The rules of `entry`, built once: request and lease rules as they are sent,
        token rules with the amount that `_rules` fills in per call."""
        found = self._skeletons.get(entry)
        if found is None:
            rules: list[tuple[str, WindowRule | LeaseRule]] = []
            for unit in ("rpm", "tpm", "itpm", "otpm"):
                limit = getattr(entry, unit)
                if limit is not None:
                    key = f"rl:{entry.pattern}:{unit}"
                    rules.append((unit, WindowRule(key, limit, self.window, 1)))
            if entry.concurrent is not None:
                key = f"rl:{entry.pattern}:concurrent"
                rules.append(("concurrent", LeaseRule(key, entry.concurrent, self.lease_ttl)))
            found = self._skeletons[entry] = tuple(rules)
        return found

    def _rules(self, entries: Sequence[LimitEntry], estimate: Estimate) -> list[tuple[str, Rule]]:
        rules: list[tuple[str, Rule]] = []
        amounts = {
            "tpm": estimate.total,
            "itpm": estimate.input_tokens,
            "otpm": estimate.output_tokens,
        }
        for entry in entries:
            for unit, basic in self._skeleton(entry):
                amount = amounts.get(unit)
                if amount is not None:
                    basic = WindowRule(basic.key, basic.limit, self.window, amount)
                rules.append((unit, basic))
        return rules

    def _plan(
        self, provider: str, model: str, estimate: Estimate
    ) -> tuple[Reservation | None, list[LimitEntry]]:
        entries = list(self.limits_for(provider, model))
        if not entries:
            return None, entries
        # 96 random bits name the call in the store (cheaper than a uuid4, fork-safe)
        reservation = Reservation(self, os.urandom(12).hex(), estimate)
        hold = hold_rule(provider, model, estimate)
        reservation.rules = [("hold", hold), *self._rules(entries, estimate)]
        return reservation, entries

    def _next_wait(
        self, admission: Admission, started: float, max_wait: float, context: tuple[Any, ...]
    ) -> float:
        """Seconds to sleep before asking again; raises when waiting cannot help."""
        left = max_wait - (self._clock() - started)
        if admission.wait < 0 or admission.wait > left:
            raise self._refused(admission, max_wait, *context)
        return min(admission.wait + random.uniform(0.001, 0.01), max(left, 0.0))

    def acquire(
        self, provider: str, model: str, estimate: Estimate, max_wait: float
    ) -> Reservation | None:
        """Reserve room for one call, waiting up to `max_wait` seconds (None: no limits
        apply, or the store failed under ``LLM_STATE_ON_ERROR=open``)."""
        reservation, entries = self._plan(provider, model, estimate)
        if reservation is None:
            return None
        rules = [rule for _, rule in reservation.rules]
        started, slept = self._clock(), False
        while True:
            try:
                self.guard.check()
                admission = self.store.acquire(rules, reservation.token, self._held())
            except StoreError as error:
                self.guard.failed(error, _RESERVE, provider, model)
                return None
            if admission.admitted:
                self._waited(started, slept)
                return reservation
            context = (reservation, entries, provider, model, started)
            slept = True
            self._sleep(self._next_wait(admission, started, max_wait, context))

    async def aacquire(
        self, provider: str, model: str, estimate: Estimate, max_wait: float
    ) -> Reservation | None:
        """Asyncio twin of `acquire`."""
        reservation, entries = self._plan(provider, model, estimate)
        if reservation is None:
            return None
        rules = [rule for _, rule in reservation.rules]
        started, slept = self._clock(), False
        while True:
            try:
                self.guard.check()
                admission = await self.store.aacquire(rules, reservation.token, self._held())
            except StoreError as error:
                self.guard.failed(error, _RESERVE, provider, model)
                return None
            if admission.admitted:
                self._waited(started, slept)
                return reservation
            context = (reservation, entries, provider, model, started)
            slept = True
            await self._asleep(self._next_wait(admission, started, max_wait, context))

    def _waited(self, started: float, slept: bool) -> None:
        notes = current_notes()
        if notes is not None and slept:
            notes.waited_s += self._clock() - started

    def _refused(
        self,
        admission: Admission,
        max_wait: float,
        reservation: Reservation,
        entries: list[LimitEntry],
        provider: str,
        model: str,
        started: float,
    ) -> RateLimitError:
        unit, rule = reservation.rules[admission.rule]
        if isinstance(rule, HoldRule):
            self._note_refusal(f"{provider} {admission.hold}", started)
            return held_back(admission, max_wait, rule, provider, model)
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
