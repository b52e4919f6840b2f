"""A fake clock for testing retries, deadlines and circuit breakers without waiting.

    clock = FakeClock()
    adapter = RetryingAdapter(real_or_fake_adapter, clock.policy(max_retries=2))
    ...
    assert clock.sleeps == [2.0]          # the wait the Retry-After header asked for

Override the container's policy the same way:
``container.retry_policy.override(providers.Object(clock.policy(max_retries=2)))``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from persona_llm.reliability.policy import RetryPolicy

__all__ = ["FakeClock"]


class FakeClock:
    """Monotonic seconds that move only when slept on or advanced; every sleep is recorded.

    Thread-safe. Use the instance itself as the clock (``clock()``), `sleep` and `asleep`
    as the sleeps, or `policy` for a `RetryPolicy` wired to all three.
    """

    __test__ = False

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The current fake time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and move time forward at once."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    async def asleep(self, seconds: float) -> None:
        """Asyncio twin of `sleep` (yields to the loop once)."""
        self.sleep(seconds)
        await asyncio.sleep(0)

    def policy(self, **fields: Any) -> RetryPolicy:
        """A `RetryPolicy` on this clock; `fields` are its other settings."""
        return RetryPolicy(clock=self, sleep=self.sleep, asleep=self.asleep, **fields)
