"""The retry policy's values, and the per-call deadline shared by nested wrappers.

A call goes through several wrappers (fallbacks → pool → retries → adapter). The outermost
one that has a deadline fixes the moment it ends (`start_deadline`) and publishes it in a
context variable for the duration of the call; the inner ones read it instead of starting
their own, so ``LLM_DEADLINE`` bounds the whole call, failovers included.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from persona_llm._deadline import CALL_DEADLINE, Deadline

__all__ = ["RetryPolicy", "deadline_scope", "start_deadline", "time_left"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed call is tried again.

    Attributes:
        max_retries: retries after the first attempt (``LLM_MAX_RETRIES``); 0 disables them.
        initial_wait: seconds of the first backoff window (``LLM_RETRY_INITIAL_WAIT``); the
            window doubles each retry and the wait is drawn uniformly from it (full jitter).
        max_wait: the longest single wait, for the backoff and for a provider's
            ``Retry-After`` alike (``LLM_RETRY_MAX_WAIT``).
        deadline: seconds one call may take over all its attempts and failovers
            (``LLM_DEADLINE``); None: no bound beyond the attempts' own timeouts.
        clock: monotonic seconds (tests pass a fake clock).
        sleep: blocking sleep (tests pass one that advances the fake clock).
        asleep: asyncio sleep.
        uniform: ``uniform(low, high)``, the jitter's random source.
    """

    max_retries: int = 2
    initial_wait: float = 0.5
    max_wait: float = 30.0
    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    uniform: Callable[[float, float], float] = field(default=random.uniform)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("max_retries, initial_wait and max_wait must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive (or None)")

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry).

        The provider's ``Retry-After`` wins when it sent one; either way the wait is at most
        `max_wait`.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        window = min(self.max_wait, self.initial_wait * 2 ** (retry - 1))
        return self.uniform(0.0, window)


def start_deadline(policy: RetryPolicy) -> float | None:
    """The moment the current call must end: the enclosing call's, else now + `deadline`."""
    current = CALL_DEADLINE.get()
    if current is not None:
        return current[0]
    return None if policy.deadline is None else policy.clock() + policy.deadline


def time_left(policy: RetryPolicy, deadline: float | None) -> float | None:
    """Seconds until `deadline` by the policy's clock (None: no deadline)."""
    return None if deadline is None else deadline - policy.clock()


def deadline_scope(
    deadline: float | None, clock: Callable[[], float] = time.monotonic
) -> AbstractContextManager[None]:
    """Publish `deadline` (measured by `clock`) to the wrappers and adapters called inside
    this block (`persona_llm._deadline`): adapters stop waiting for a reply when it passes.

    Keep the block free of ``yield``: a generator must set and reset it within one step.
    """
    if deadline is None and CALL_DEADLINE.get() is None:
        return _UNCHANGED  # nothing to publish: the common case costs no context switch
    return _published(None if deadline is None else (deadline, clock))


_UNCHANGED: AbstractContextManager[None] = nullcontext()


@contextmanager
def _published(deadline: Deadline | None) -> Iterator[None]:
    token = CALL_DEADLINE.set(deadline)
    try:
        yield
    finally:
        CALL_DEADLINE.reset(token)
