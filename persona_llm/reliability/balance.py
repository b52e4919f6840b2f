"""Load balancing (``LLM_POOL``): spread calls over targets of equal standing.

Each call starts at the member the strategy picks and fails over to the others in pool
order (see `persona_llm.reliability.failover` for what fails over and what is raised):

* ``round_robin`` (default): members take turns; a member of weight N takes N turns per
  cycle, spread out (smooth weighted round-robin: weights 2 and 1 give A, B, A, A, B, A...).
* ``random``: each call picks a member at random in proportion to the weights.

A member whose calls fail ``LLM_CIRCUIT_FAILURES`` times in a row (errors that fail over,
after its retries) is out of rotation for ``LLM_CIRCUIT_COOLDOWN`` seconds, then back; one
more failure takes it out again, a success resets its count. While every member is out, a
call fails at once with a retryable `ProviderUnavailableError`, so a fallback takes over.
Picking and counting are thread-safe.

With a shared store (``LLM_STATE=redis://...``) the breakers live in the store instead
(`persona_llm.state.breaker.SharedBreakers`): one worker opening a member's breaker takes
it out of every worker's rotation, and one half-open probe at a time runs across them all.
A local rate-limit refusal (``RateLimitError.local``) is not a member failure.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from persona_llm.errors import LLMError, ProviderUnavailableError
from persona_llm.reliability.failover import FailoverAdapter
from persona_llm.reliability.policy import RetryPolicy
from persona_llm.reliability.wrapper import Target
from persona_llm.types import ChatChunk, ChatRequest

if TYPE_CHECKING:
    from persona_llm.state.breaker import SharedBreakers

__all__ = ["CircuitBreaker", "PoolAdapter"]

logger = logging.getLogger(__name__)

STRATEGIES = ("round_robin", "random")


class CircuitBreaker:
    """Counts one member's consecutive failures and takes it out of rotation for a while.

    Not locked itself: the pool calls it under its own lock.

    Args:
        failures: consecutive failures that open the breaker; 0 never opens it.
        cooldown: seconds the member stays out.
        clock: monotonic seconds.
    """

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float]) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.consecutive = 0
        self.open_until: float | None = None

    def available(self) -> bool:
        """Whether the member is in rotation (its cool-down, if any, is over)."""
        return self.open_until is None or self.clock() >= self.open_until

    def succeeded(self) -> bool:
        """Reset the count; True when this closed an open breaker (the member is back)."""
        was_open = self.open_until is not None
        self.consecutive, self.open_until = 0, None
        return was_open

    def failed(self) -> bool:
        """Count a failure; True when this takes the member out of rotation."""
        self.consecutive += 1
        if self.threshold and self.consecutive >= self.threshold:
            self.open_until = self.clock() + self.cooldown
            return True
        return False


class PoolAdapter(FailoverAdapter):
    """Balances calls over `members` (see the module docstring).

    Args:
        members: the pool; `Target.weight` is each member's share.
        strategy: ``"round_robin"`` or ``"random"``.
        circuit_failures: consecutive failures that take a member out (0: never).
        circuit_cooldown: seconds a member stays out.
        policy: its clock times the cool-downs; its deadline bounds each call.
        rng: the random source of the ``random`` strategy.
        shared: breakers kept in the state store (None: in this process).
    """

    def __init__(
        self,
        members: Sequence[Target],
        *,
        strategy: str = "round_robin",
        circuit_failures: int = 5,
        circuit_cooldown: float = 30.0,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        shared: SharedBreakers | None = None,
    ) -> None:
        super().__init__(members, policy)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if any(member.weight < 1 for member in members):
            raise ValueError("every member's weight must be at least 1")
        self.strategy = strategy
        self.shared = shared
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._current = [0] * len(self.targets)  # smooth weighted round-robin state
        self._breakers = [
            CircuitBreaker(circuit_failures, circuit_cooldown, self.policy.clock)
            for _ in self.targets
        ]

    def in_rotation(self) -> list[Target]:
        """The members currently in rotation."""
        with self._lock:
            return [t for t, b in zip(self.targets, self._breakers, strict=True) if b.available()]

    def _plan(self, model: str) -> list[Target]:
        if self.shared is not None:
            return self._plan_shared(model, self.shared)
        with self._lock:
            ready = [i for i, breaker in enumerate(self._breakers) if breaker.available()]
            if not ready:
                raise self._all_out(model)
            first = self._pick(ready)
        start = ready.index(first)
        return [self.targets[i] for i in ready[start:] + ready[:start]]

    def _plan_shared(self, model: str, shared: SharedBreakers) -> list[Target]:
        waits = shared.ready([t.label(model) for t in self.targets], self.name, model)
        return self._plan_ready(model, waits)

    async def _aplan(self, model: str) -> list[Target]:
        """Asyncio twin of `_plan`: the shared breakers read without blocking the loop."""
        if self.shared is None:
            return self._plan(model)
        labels = [t.label(model) for t in self.targets]
        return self._plan_ready(model, await self.shared.aready(labels, self.name, model))

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The stream of the first member whose first chunk arrives (with shared breakers,
        planned when the first chunk is asked for: the read is the store's asyncio one)."""
        if self.shared is None:
            return super().astream(model, request)
        return self._astream_shared(model, request)

    async def _astream_shared(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        plan = self._able(await self._aplan(model), model, request)
        chunks = self._astream(model, request, plan, self._aopen(plan, model, request))
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]  # an async generator

    def _plan_ready(self, model: str, waits: list[float]) -> list[Target]:
        ready = [i for i, wait in enumerate(waits) if wait < 0]
        if not ready:
            raise self._all_out(model, min(waits))
        with self._lock:
            first = self._pick(ready)
        start = ready.index(first)
        return [self.targets[i] for i in ready[start:] + ready[:start]]

    def _pick(self, ready: list[int]) -> int:
        weights = [self.targets[i].weight for i in ready]
        if self.strategy == "random":
            return self._rng.choices(ready, weights)[0]
        for i, weight in zip(ready, weights, strict=True):
            self._current[i] += weight
        chosen = max(ready, key=lambda i: self._current[i])
        self._current[chosen] -= sum(weights)
        return chosen

    def _succeeded(self, target: Target, model: str) -> None:
        if self.shared is not None:
            back = self.shared.report(target.label(model), ok=True)
        else:
            index = self._index(target)
            with self._lock:
                back = self._breakers[index].succeeded()
        if back:
            logger.info("%s answered again: back in rotation", target.label(model))

    async def _asucceeded(self, target: Target, model: str) -> None:
        if self.shared is None:
            self._succeeded(target, model)
        elif await self.shared.areport(target.label(model), ok=True):
            logger.info("%s answered again: back in rotation", target.label(model))

    def _failed(self, target: Target, model: str, error: LLMError) -> None:
        if getattr(error, "local", False):
            return  # our own rate limit refused it: the member did not fail
        if self.shared is not None:
            opened = self.shared.report(target.label(model), ok=False)
            self._opened(opened, target, model, error, self.shared.threshold)
            return
        with self._lock:
            breaker = self._breakers[self._index(target)]
            opened = breaker.failed()
        self._opened(opened, target, model, error, breaker.consecutive)

    async def _afailed(self, target: Target, model: str, error: LLMError) -> None:
        if self.shared is None or getattr(error, "local", False):
            self._failed(target, model, error)
            return
        opened = await self.shared.areport(target.label(model), ok=False)
        self._opened(opened, target, model, error, self.shared.threshold)

    def _opened(
        self, opened: bool, target: Target, model: str, error: LLMError, count: int
    ) -> None:
        cooldown = self.shared.cooldown if self.shared is not None else self._breakers[0].cooldown
        if opened:
            logger.warning(
                "%s failed %d times in a row: out of rotation for %g s",
                target.label(model),
                count,
                cooldown,
                extra={"llm_provider": error.provider, "llm_model": error.model},
            )

    def _index(self, target: Target) -> int:
        return next(i for i, member in enumerate(self.targets) if member is target)

    def _all_out(self, model: str, back: float | None = None) -> ProviderUnavailableError:
        if back is None:
            now = self.policy.clock()
            back = min(b.open_until or now for b in self._breakers) - now
        return ProviderUnavailableError(
            f"every member of the pool ({len(self.targets)}) is out of rotation after "
            f"repeated failures; the first returns in {max(back, 0):.1f} s",
            provider=self.name,
            model=model,
            retryable=True,
        )
