"""What an admitted call holds in the rate limits until it ends (`persona_llm.state.limiter`).

Two kinds, with the same methods: a `Reservation` names the call's share in the store by
the rules sent and a token (any store, Redis included); a `LaneReservation` points at the
records a `persona_llm.state.lane.MemoryLane` took (the memory store's usual path). Once
the call ended, `finish` (or `settle` then `observe`) replaces the token estimate with the
real `usage`, ends the in-flight lease, and turns the provider's rate-limit headers into
holds when they say less is left than the call needed.

Tokens name a call in the store, unique across the processes sharing it: a random prefix
per process (drawn again in a forked child) and a counter, without a system call per call.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from persona_llm.providers._rate_limits import plenty_left
from persona_llm.state.config import LimitEntry
from persona_llm.state.estimate import Tokens
from persona_llm.state.guard import StoreGuard
from persona_llm.state.holds import holds_from
from persona_llm.state.store import (
    Correction,
    HoldRule,
    LeaseRule,
    Rule,
    StateStore,
    StoreError,
    WindowRule,
)
from persona_llm.types import Usage

if TYPE_CHECKING:
    from persona_llm.state.lane import MemoryLane

__all__ = ["LaneReservation", "Limits", "Reservation", "Target", "new_token"]

_HOLD = "hold calls by the provider's rate limits"
_SETTLE = "settle a rate-limit reservation"


class Limits(Protocol):
    """What a reservation and a target's plan use of their `RateLimiter`."""

    store: StateStore
    guard: StoreGuard
    window: float
    lease_ttl: float

    def _outgoing(
        self, adjust: list[Correction], release: list[tuple[str, str]], shrinking: bool
    ) -> tuple[list[Correction], list[tuple[str, str]]]: ...


class _TokenSource:
    """``prefix + counter``: 64 random bits per process, then a count in hex."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.count = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):x}"


new_token = _TokenSource()
if hasattr(os, "register_at_fork"):  # a forked worker must not repeat its parent's tokens
    os.register_at_fork(after_in_child=new_token.reseed)


def _hold_rule(target: Target, estimate: Tokens) -> HoldRule:
    inputs, outputs = estimate
    return HoldRule(target.hold_key, inputs + outputs, inputs, outputs)


class Reservation:
    """One admitted call's share, named by `token` in the store's `rules` (the hold check
    first); `units` names each rule (``hold``, ``rpm``, ``tpm``, ``itpm``, ``otpm``,
    ``concurrent``)."""

    __slots__ = ("estimate", "limiter", "rules", "target", "token")

    def __init__(
        self,
        limiter: Limits,
        token: str,
        estimate: Tokens,
        target: Target,
        rules: list[Rule],
    ) -> None:
        self.limiter = limiter
        self.token = token
        self.estimate = estimate
        self.target = target
        self.rules = rules

    @property
    def units(self) -> tuple[str, ...]:
        """The unit of each rule."""
        return self.target.units

    def _updates(
        self, usage: Usage | None, failed: bool
    ) -> tuple[list[Correction], list[tuple[str, str]], bool]:
        """The corrections, the leases to end, and whether every correction only shrinks."""
        adjust: list[Correction] = []
        release: list[tuple[str, str]] = []
        shrinking = True
        rules, token = self.rules, self.token
        for index in self.target.leases:
            release.append((rules[index].key, token))
        if usage is None and not failed:
            return adjust, release, shrinking  # no usage reported: keep the estimates
        for index, unit in self.target.tokens:
            rule = rules[index]
            if usage is not None:
                if unit == "tpm":
                    amount = usage.total_tokens
                elif unit == "itpm":
                    amount = usage.prompt_tokens
                else:
                    amount = usage.completion_tokens
            else:  # failed: nothing generated; the input may still count at the provider
                amount = 0 if unit == "otpm" else self.estimate[0]
            if amount != rule.amount:  # type: ignore[union-attr]  # a WindowRule
                adjust.append((rule.key, token, amount))
                shrinking = shrinking and amount < rule.amount  # type: ignore[union-attr]
        return adjust, release, shrinking

    # unasync: source reservation
    async def asettle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Replace the estimate with the real usage and end the lease (never raises)."""
        limiter = self.limiter
        adjust, release, shrinking = self._updates(usage, failed)
        if limiter.store.defers_corrections:
            adjust, release = limiter._outgoing(adjust, release, shrinking)
        if not adjust and not release:
            return
        store, guard = limiter.store, limiter.guard
        try:
            if guard.down_until:
                guard.check()
            await store.asettle(adjust, release)
        except StoreError as error:
            guard.note(error, _SETTLE)

    async def aobserve(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Hold the target's calls by what the provider's rate-limit headers in `replies`
        (the headers of the call's replies) and a 429's ``retry-after`` say (never raises)."""
        rule: HoldRule = self.rules[0]  # type: ignore[assignment]  # `_plan` puts it first
        if error is None and (not replies or plenty_left(replies, rule.tokens)):
            return  # the usual reply: plenty left of the provider's limits
        holds = holds_from(rule, replies, error)
        if not holds:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            await store.ahold(rule.key, holds)
        except StoreError as failure:
            guard.note(failure, _HOLD)

    async def afinish(self, usage: Usage | None, replies: Sequence[Any]) -> None:
        """`settle` with the call's usage, then `observe` its replies (never raises)."""
        await self.asettle(usage)
        await self.aobserve(replies)

    # unasync: end

    # unasync: generated reservation (do not edit: scripts/unasync.py writes it)
    def settle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Replace the estimate with the real usage and end the lease (never raises)."""
        limiter = self.limiter
        adjust, release, shrinking = self._updates(usage, failed)
        if limiter.store.defers_corrections:
            adjust, release = limiter._outgoing(adjust, release, shrinking)
        if not adjust and not release:
            return
        store, guard = limiter.store, limiter.guard
        try:
            if guard.down_until:
                guard.check()
            store.settle(adjust, release)
        except StoreError as error:
            guard.note(error, _SETTLE)

    def observe(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Hold the target's calls by what the provider's rate-limit headers in `replies`
        (the headers of the call's replies) and a 429's ``retry-after`` say (never raises)."""
        rule: HoldRule = self.rules[0]  # type: ignore[assignment]  # `_plan` puts it first
        if error is None and (not replies or plenty_left(replies, rule.tokens)):
            return  # the usual reply: plenty left of the provider's limits
        holds = holds_from(rule, replies, error)
        if not holds:
            return
        store, guard = self.limiter.store, self.limiter.guard
        try:
            guard.check()
            store.hold(rule.key, holds)
        except StoreError as failure:
            guard.note(failure, _HOLD)

    def finish(self, usage: Usage | None, replies: Sequence[Any]) -> None:
        """`settle` with the call's usage, then `observe` its replies (never raises)."""
        self.settle(usage)
        self.observe(replies)

    # unasync: end


class LaneReservation:
    """One admitted call's share, as the record its target's lane took (memory store)."""

    __slots__ = ("estimate", "lane", "record", "target")

    def __init__(
        self, target: Target, lane: MemoryLane, estimate: Tokens, record: list[Any]
    ) -> None:
        self.target = target
        self.lane = lane
        self.estimate = estimate
        self.record = record

    def finish(self, usage: Usage | None, replies: Sequence[Any]) -> None:
        """`settle` with the call's usage, then `observe` its replies (never raises)."""
        self.lane.finish(self.record, usage)
        if replies:
            inputs, outputs = self.estimate
            if not plenty_left(replies, inputs + outputs):
                self.observe(replies)

    async def afinish(self, usage: Usage | None, replies: Sequence[Any]) -> None:
        """Asyncio twin of `finish` (the memory store answers inline)."""
        self.finish(usage, replies)

    def settle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Replace the estimate with the real usage and end the lease (never raises)."""
        if usage is not None:
            self.lane.finish(self.record, usage)
            return
        if failed:  # nothing generated; the input may still count at the provider
            inputs = self.estimate[0]
            amounts = (inputs, inputs, 0)
        else:
            amounts = None  # no usage reported: keep the estimates
        self.lane.settle(self.record, amounts)

    async def asettle(self, usage: Usage | None, *, failed: bool = False) -> None:
        """Asyncio twin of `settle`."""
        self.settle(usage, failed=failed)

    def observe(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Hold the target's calls by what the provider's rate-limit headers in `replies`
        and a 429's ``retry-after`` say (never raises)."""
        rule = _hold_rule(self.target, self.estimate)
        if error is None and (not replies or plenty_left(replies, rule.tokens)):
            return
        holds = holds_from(rule, replies, error)
        if holds:
            store, guard = self.target.limiter.store, self.target.limiter.guard
            try:
                store.hold(rule.key, holds)
            except StoreError as failure:  # pragma: no cover  # the memory store never fails
                guard.note(failure, _HOLD)

    async def aobserve(self, replies: Sequence[Any], error: BaseException | None = None) -> None:
        """Asyncio twin of `observe`."""
        self.observe(replies, error)


class Target:
    """One ``provider/model``'s limits, as every call of it sends them: the entries, the
    hold key, the rules of each entry (token rules with the amount `RateLimiter._plan`
    fills in per call), the unit of every rule (the hold first), and which rules a settle
    corrects (token rules) or ends (leases)."""

    __slots__ = ("entries", "hold_key", "lane", "leases", "limiter", "skeleton", "tokens", "units")

    def __init__(
        self, provider: str, model: str, entries: tuple[LimitEntry, ...], limiter: Limits
    ) -> None:
        self.entries = entries
        self.hold_key = f"rl:hold:{provider}/{model}"
        skeleton: list[tuple[str, WindowRule | LeaseRule]] = []
        for entry in entries:
            for unit in ("rpm", "tpm", "itpm", "otpm"):
                limit = getattr(entry, unit)
                if limit is not None:
                    key = f"rl:{entry.pattern}:{unit}"
                    skeleton.append((unit, WindowRule(key, limit, limiter.window, 1)))
            if entry.concurrent is not None:
                key = f"rl:{entry.pattern}:concurrent"
                skeleton.append(("concurrent", LeaseRule(key, entry.concurrent, limiter.lease_ttl)))
        self.skeleton = tuple(skeleton)
        self.units = ("hold", *(unit for unit, _ in skeleton))
        self.leases = tuple(i for i, unit in enumerate(self.units) if unit == "concurrent")
        self.tokens = tuple(
            (i, unit) for i, unit in enumerate(self.units) if unit in ("tpm", "itpm", "otpm")
        )
        self.limiter = limiter
        self.lane = limiter.store.lane(self.hold_key, self.skeleton) if entries else None

    def lane_held(self, estimate: Tokens, record: Any) -> LaneReservation:
        """The reservation of a call whose share this target's lane took as `record`."""
        assert self.lane is not None  # only called for a lane's record
        return LaneReservation(self, self.lane, estimate, record)
