"""The state store interface: what rate limits, the breaker, budgets and the cache need.

Two backends implement it: `persona_llm.state.memory.MemoryStore` (one process, the default)
and `persona_llm.state.redis.RedisStore` (every worker of every machine that shares one
Redis). Each operation is atomic on the store: the Redis backend runs it as one Lua script
or one ``MULTI`` transaction, the memory backend under one lock, so workers never race
between a read and a write.

Every method has an asyncio twin prefixed with ``a`` (``acquire`` / ``aacquire``). A backend
raises `StoreError` (never a backend's own exception) when the store cannot answer in time;
`persona_llm.state.guard.StoreGuard` decides what the LLM call does then.

Keys are given without the prefix (``LLM_STATE_PREFIX``); the backend adds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "Admission",
    "Correction",
    "Hold",
    "HoldRule",
    "LeaseRule",
    "Rule",
    "StateStore",
    "StoreError",
    "StoreInfo",
    "WindowRule",
]


class StoreError(Exception):
    """The state store did not answer (down, slow, full, or an error). Message redacted."""


class WindowRule(NamedTuple):
    """At most `limit` units per sliding `window` seconds; this call takes `amount`.

    A request-per-minute limit is a rule whose every call takes 1; a token limit takes the
    call's token estimate, corrected afterwards with `StateStore.adjust`.
    """

    key: str
    limit: float
    window: float
    amount: float


class LeaseRule(NamedTuple):
    """At most `limit` calls in flight; a lease ends on `StateStore.release`, or after `ttl`
    seconds when its worker died without releasing it."""

    key: str
    limit: int
    ttl: float


class HoldRule(NamedTuple):
    """The provider's own limits, as its rate-limit headers last said (`StateStore.hold`).

    While a hold of `key` lasts (until its full reset), a call is admitted only when what the
    provider said remains, plus what refilled since at the hold's rate, covers what the call
    needs (else it waits until it would), and that need is taken from it:
    1 for ``requests`` (and ``retry-after``, a 429's hold), `tokens` for ``tokens``,
    `input_tokens` for ``input-tokens``, `output_tokens` for ``output-tokens``.
    """

    key: str
    tokens: float
    input_tokens: float
    output_tokens: float

    def need(self, name: str) -> float:
        """What this call takes from the hold `name`."""
        if name == "tokens":
            return self.tokens
        if name == "input-tokens":
            return self.input_tokens
        return self.output_tokens if name == "output-tokens" else 1.0


# NamedTuples, not frozen dataclasses: a limited call builds some, at a third of the cost.
Rule = WindowRule | LeaseRule | HoldRule

#: ``(limit name, remaining, seconds until the full reset, units refilled a second)``: what
#: `StateStore.hold` takes (a rate of 0: nothing comes back before the reset).
Hold = tuple[str, float, float, float]

#: ``(window key, token, real amount)``: what `StateStore.adjust` takes, batched.
Correction = tuple[str, str, float]


@dataclass(frozen=True)
class Admission:
    """The answer of `StateStore.acquire`.

    Attributes:
        admitted: every rule had room, and the call's share is now taken in each.
        wait: when not admitted, seconds until the blocking rule may have room
            (-1: the call alone is larger than the limit, it never fits).
        rule: index of the blocking rule (-1 when admitted).
        used: what the blocking rule had used when it refused (a hold: what remains).
        hold: the name of the provider's limit when a `HoldRule` refused.
    """

    admitted: bool
    wait: float = 0.0
    rule: int = -1
    used: float = 0.0
    hold: str = ""


ADMITTED = Admission(True)


@dataclass(frozen=True)
class StoreInfo:
    """What `persona-llm doctor` shows of a store."""

    backend: str
    url: str
    version: str
    latency_s: float


class StateStore(ABC):
    """The operations the state features need, each atomic on the store."""

    backend = "abstract"

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the store is, password redacted."""

    # -- rate limits --------------------------------------------------------------------

    @abstractmethod
    def acquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction] = ()
    ) -> Admission:
        """Take this call's share in every rule at once, or none of them.

        `corrections` (earlier calls' real amounts, see `settle`) are applied first, in the
        same atomic step, whether or not this call is admitted.
        """

    #: Called with a failure seen after the operation returned (a settle sent without
    #: waiting for its reply), and what it was; the state services count and log it.
    late_error: Callable[[StoreError, str], None] | None = None

    #: True when `settle` costs more than riding on the next `acquire` (on Redis a settle is
    #: sent without waiting, but still a write and a script run), so the limiter may hold
    #: back corrections that only shrink a reservation and send them with its next `acquire`.
    defers_corrections = False

    def lane(self, hold_key: str, rules: Sequence[tuple[str, WindowRule | LeaseRule]]) -> Any:
        """A fast path for the calls of one target whose hold key and ``(unit, rule)`` these
        are (built once per target; None: this store has none, every call goes through
        `acquire`). The memory store's is a `persona_llm.state.lane.MemoryLane`."""
        return None

    def settle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> None:
        """Apply `corrections` and end the leases ``(key, token)`` of `releases` at once."""
        for key, token, amount in corrections:
            self.adjust(key, token, amount)
        for key, token in releases:
            self.release(key, token)

    @abstractmethod
    def hold(self, key: str, holds: Sequence[Hold]) -> None:
        """Hold calls of `key` (its `HoldRule`) by the provider's limits: each
        ``(name, remaining, seconds, rate)`` replaces that limit's earlier hold, lasts until
        its full reset, `seconds` from now, and refills `rate` units a second meanwhile."""

    @abstractmethod
    def adjust(self, key: str, token: str, amount: float) -> None:
        """Replace what the call `token` took in a window rule (real usage known)."""

    @abstractmethod
    def release(self, key: str, token: str) -> None:
        """End the call's lease in a `LeaseRule`."""

    # -- the shared circuit breaker -----------------------------------------------------

    @abstractmethod
    def breaker_ready(self, keys: Sequence[str], probe_ttl: float) -> list[float]:
        """For each breaker: -1 when it lets a call through, else seconds until it may.

        A breaker whose cool-down is over lets one call through (the half-open probe) and
        refuses others for `probe_ttl` seconds or until that call's outcome is reported.
        """

    @abstractmethod
    def breaker_report(self, key: str, ok: bool, threshold: int, cooldown: float) -> bool:
        """Count a success or failure; True when it closed or opened the breaker."""

    # -- keyed usage (budgets) ----------------------------------------------------------

    @abstractmethod
    def add_usage(self, key: str, amounts: Mapping[str, float], ttl: float | None) -> None:
        """Add `amounts` to the counters of `key` (kept `ttl` seconds; None: forever)."""

    @abstractmethod
    def read_usage(self, key: str) -> dict[str, float]:
        """The counters of `key` (empty when none)."""

    # -- values (the cache) -------------------------------------------------------------

    @abstractmethod
    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored values (None where missing or expired)."""

    @abstractmethod
    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Store values for `ttl` seconds (None or 0: no expiry)."""

    # -- lifecycle ----------------------------------------------------------------------

    @abstractmethod
    def info(self) -> StoreInfo:
        """Reachability, version and round-trip latency (raises `StoreError`)."""

    def close(self) -> None:  # noqa: B027  # most stores hold nothing to release
        """Release connections."""

    # -- asyncio twins (the memory store never blocks, so it answers inline) ------------

    async def aacquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction] = ()
    ) -> Admission:
        """Asyncio twin of `acquire`."""
        return self.acquire(rules, token, corrections)

    async def asettle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> None:
        """Asyncio twin of `settle`."""
        self.settle(corrections, releases)

    async def ahold(self, key: str, holds: Sequence[Hold]) -> None:
        """Asyncio twin of `hold`."""
        self.hold(key, holds)

    async def aadjust(self, key: str, token: str, amount: float) -> None:
        """Asyncio twin of `adjust`."""
        self.adjust(key, token, amount)

    async def arelease(self, key: str, token: str) -> None:
        """Asyncio twin of `release`."""
        self.release(key, token)

    async def abreaker_ready(self, keys: Sequence[str], probe_ttl: float) -> list[float]:
        """Asyncio twin of `breaker_ready`."""
        return self.breaker_ready(keys, probe_ttl)

    async def abreaker_report(self, key: str, ok: bool, threshold: int, cooldown: float) -> bool:
        """Asyncio twin of `breaker_report`."""
        return self.breaker_report(key, ok, threshold, cooldown)

    async def aadd_usage(self, key: str, amounts: Mapping[str, float], ttl: float | None) -> None:
        """Asyncio twin of `add_usage`."""
        self.add_usage(key, amounts, ttl)

    async def aread_usage(self, key: str) -> dict[str, float]:
        """Asyncio twin of `read_usage`."""
        return self.read_usage(key)

    async def aget_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Asyncio twin of `get_many`."""
        return self.get_many(keys)

    async def aset_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Asyncio twin of `set_many`."""
        self.set_many(items, ttl)

    async def aclose(self) -> None:
        """Asyncio twin of `close`."""
        self.close()
