"""`SharedBreakers`: the pool's circuit breakers kept in the store, shared by every worker.

Each pool member (``provider/model``) has one breaker in the store: consecutive failures,
open-until and probe-until, updated by Lua scripts (or under the memory store's lock). When
one worker opens a member's breaker, every worker's next call skips that member (each call
reads the breakers first). After the cool-down, exactly one call across all workers is let
through as the half-open probe; the others keep skipping the member until the probe
succeeds (closed: back in rotation) or fails (open for another cool-down), or until
`probe_ttl` seconds pass without an answer (the prober died).

Asyncio calls read and report through the store's asyncio interface (`aready`,
`areport`): a slow store never blocks the event loop, only the call that waits for it
(at most ``LLM_STATE_TIMEOUT``, then ``LLM_STATE_ON_ERROR`` decides).
"""

from __future__ import annotations

from collections.abc import Sequence

from persona_llm.state.guard import StoreGuard
from persona_llm.state.store import StateStore, StoreError

__all__ = ["SharedBreakers"]


class SharedBreakers:
    """Breakers of pool members in the store.

    Args:
        store: where the breakers live.
        guard: ``LLM_STATE_ON_ERROR`` for a failing store (``open``: every member is in).
        threshold: consecutive failures that open a breaker (``LLM_CIRCUIT_FAILURES``).
        cooldown: seconds a member stays out (``LLM_CIRCUIT_COOLDOWN``).
        probe_ttl: seconds a half-open probe may take before another worker may probe.
    """

    def __init__(
        self,
        store: StateStore,
        guard: StoreGuard,
        *,
        threshold: int,
        cooldown: float,
        probe_ttl: float,
    ) -> None:
        self.store = store
        self.guard = guard
        self.threshold = threshold
        self.cooldown = cooldown
        self.probe_ttl = probe_ttl

    @staticmethod
    def _key(label: str) -> str:
        return f"breaker:{label}"

    def ready(self, labels: Sequence[str], provider: str, model: str) -> list[float]:
        """-1 for each member in rotation, else the seconds until it may be tried."""
        keys = [self._key(label) for label in labels]
        try:
            return self.guard.run(
                "read the circuit breakers",
                lambda: self.store.breaker_ready(keys, self.probe_ttl),
            )
        except StoreError as error:
            self.guard.failed(error, "read the circuit breakers", provider, model)
            return [-1.0] * len(labels)

    def report(self, label: str, ok: bool) -> bool:
        """Record a member's success or failure; True when its breaker opened or closed."""
        if ok and self.threshold == 0:
            return False
        try:
            return self.guard.run(
                "update a circuit breaker",
                lambda: self.store.breaker_report(
                    self._key(label), ok, self.threshold, self.cooldown
                ),
            )
        except StoreError as error:
            self.guard.note(error, "update a circuit breaker")
            return False

    async def aready(self, labels: Sequence[str], provider: str, model: str) -> list[float]:
        """Asyncio twin of `ready`."""
        keys = [self._key(label) for label in labels]
        try:
            self.guard.check()
            return await self.store.abreaker_ready(keys, self.probe_ttl)
        except StoreError as error:
            self.guard.failed(error, "read the circuit breakers", provider, model)
            return [-1.0] * len(labels)

    async def areport(self, label: str, ok: bool) -> bool:
        """Asyncio twin of `report`."""
        if ok and self.threshold == 0:
            return False
        try:
            self.guard.check()
            return await self.store.abreaker_report(
                self._key(label), ok, self.threshold, self.cooldown
            )
        except StoreError as error:
            self.guard.note(error, "update a circuit breaker")
            return False
