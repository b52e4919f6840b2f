"""Time bounds on whole attempts, which the SDKs' timeouts do not give.

httpx times each read, not the reply: a body that drips a byte every 100 ms never times out.
Here each attempt gets a moment it must end by, and something that interrupts it then:

* **A request** (chat, one embeddings batch) ends within ``LLM_TIMEOUT``, connecting, waiting
  and reading included.
* **A stream** sends its first event within ``LLM_STREAM_FIRST_CHUNK_TIMEOUT`` and each next
  one within ``LLM_STREAM_IDLE_TIMEOUT`` (both default to ``LLM_TIMEOUT``); the time the caller
  spends between chunks does not count.
* **The call's deadline** (``LLM_DEADLINE``, published by the reliability wrappers in
  `persona_llm._deadline`) shortens every wait that ends past it, so no attempt outlives it.
  A stream is under it until its first visible chunk (the part that is retried).

How an attempt is interrupted: `persona_llm.providers._interrupt` (a loop timer for asyncio,
a watchdog thread and httpx2 event hooks for blocking calls).

Per call this costs a few attribute stores, a set insertion and a context variable; nothing
runs on the request path that scales with the reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar

from persona_llm._deadline import seconds_left
from persona_llm._services import ProviderConfig
from persona_llm.errors import LLMTimeoutError, sanitize_exception
from persona_llm.providers._interrupt import CURRENT, SYNC_HOOKS, WATCHDOG, Attempt, LoopTimer

__all__ = ["SYNC_HOOKS", "AsyncStreamTimer", "StreamTimer", "TimeBounds"]

T = TypeVar("T")


class TimeBounds:
    """An adapter's time bounds, from its `ProviderConfig`.

    Args:
        config: ``timeout`` bounds a request, ``stream_first_chunk_timeout`` and
            ``stream_idle_timeout`` a stream (both default to ``timeout``).
        provider: the adapter's name, for the errors.
    """

    def __init__(self, config: ProviderConfig, provider: str) -> None:
        self.timeout = config.timeout
        self.first_chunk = config.stream_first_chunk_timeout or config.timeout
        self.idle = config.stream_idle_timeout or config.timeout
        self.provider = provider
        self.secrets = config.secrets

    def budget(self, limit: float, variable: str) -> tuple[float, str]:
        """Seconds the next wait may take, and the setting that says so."""
        left = seconds_left()
        if left is not None and left < limit:
            return max(left, 0.0), "LLM_DEADLINE"
        return limit, variable

    def timed_out(self, seconds: float, variable: str, model: str) -> LLMTimeoutError:
        """The error of an attempt that ran out of time."""
        if variable == "LLM_DEADLINE":
            message = "the call's deadline (LLM_DEADLINE) passed while waiting for the reply"
        elif variable == "LLM_TIMEOUT":
            message = f"no complete reply within {seconds:g} s (LLM_TIMEOUT)"
        else:
            message = f"the stream sent nothing for {seconds:g} s ({variable})"
        return LLMTimeoutError(message, provider=self.provider, model=model)

    @contextmanager
    def request(self, model: str) -> Iterator[None]:
        """Bounds one blocking request (a call of the SDK inside this block)."""
        seconds, variable = self.budget(self.timeout, "LLM_TIMEOUT")
        attempt = Attempt(time.monotonic() + seconds)
        token = CURRENT.set(attempt)
        WATCHDOG.add(attempt)
        try:
            yield
        except Exception as exc:
            if attempt.expired and not isinstance(exc, LLMTimeoutError):
                raise self.timed_out(seconds, variable, model) from sanitize_exception(
                    exc, self.secrets
                )
            raise
        finally:
            WATCHDOG.discard(attempt)
            CURRENT.reset(token)

    @contextmanager
    def arequest(self, model: str) -> Iterator[None]:
        """Bounds one asyncio request: use it inside the coroutine that awaits the SDK."""
        seconds, variable = self.budget(self.timeout, "LLM_TIMEOUT")
        timer = LoopTimer(seconds)
        try:
            yield
        except asyncio.CancelledError:
            if timer.timed_out():
                raise self.timed_out(seconds, variable, model) from None
            raise
        finally:
            timer.cancel()

    def stream(self, model: str) -> StreamTimer:
        """The bounds of one blocking stream."""
        return StreamTimer(self, model)

    def astream(self, model: str) -> AsyncStreamTimer:
        """The bounds of one asyncio stream."""
        return AsyncStreamTimer(self, model)


class StreamTimer:
    """A blocking stream's bounds: `send` the request, then iterate `events`."""

    def __init__(self, bounds: TimeBounds, model: str) -> None:
        self.bounds = bounds
        self.model = model
        self.seconds, self.variable = bounds.budget(
            bounds.first_chunk, "LLM_STREAM_FIRST_CHUNK_TIMEOUT"
        )
        self.attempt = Attempt(time.monotonic() + self.seconds)
        self.started = False

    def send(self, call: Any, /, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` (the SDK call that sends the request) within the first
        chunk's time."""
        with self._waiting():
            return call(*args, **kwargs)

    @contextmanager
    def opened(self, manager: AbstractContextManager[T]) -> Iterator[T]:
        """Enters `manager` (the SDK's streaming response, which sends the request when
        entered) within the first chunk's time, and exits it at the end of the block."""
        with ExitStack() as stack:
            with self._waiting():
                value = stack.enter_context(manager)
            yield value

    def events(self, events: Iterable[T]) -> Iterator[T]:
        """`events`, each within its time: the first chunk's, then the idle bound."""
        iterator = iter(events)
        try:
            while True:
                with self._waiting():
                    try:
                        event = next(iterator)
                    except StopIteration:
                        return
                self.started = True
                yield event
        finally:
            WATCHDOG.discard(self.attempt)

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        attempt = self.attempt
        if self.started:  # after the first event: the idle bound, from now
            self.seconds, self.variable = self.bounds.budget(
                self.bounds.idle, "LLM_STREAM_IDLE_TIMEOUT"
            )
            attempt.due = time.monotonic() + self.seconds
        attempt.armed = True
        token = CURRENT.set(attempt)
        WATCHDOG.add(attempt)
        try:
            yield
        except Exception as exc:
            if attempt.expired and not isinstance(exc, LLMTimeoutError):
                WATCHDOG.discard(attempt)
                error = self.bounds.timed_out(self.seconds, self.variable, self.model)
                raise error from sanitize_exception(exc, self.bounds.secrets)
            raise
        finally:
            attempt.armed = False
            CURRENT.reset(token)


class AsyncStreamTimer:
    """An asyncio stream's bounds: await `send` of the request, then iterate `events`."""

    def __init__(self, bounds: TimeBounds, model: str) -> None:
        self.bounds = bounds
        self.model = model
        self.seconds, self.variable = bounds.budget(
            bounds.first_chunk, "LLM_STREAM_FIRST_CHUNK_TIMEOUT"
        )
        self.due = time.monotonic() + self.seconds
        self.started = False

    async def send(self, request: Awaitable[T]) -> T:
        """Awaits `request` (the SDK call that sends the request) within the first chunk's
        time."""
        with self._waiting():
            return await request

    @asynccontextmanager
    async def opened(self, manager: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
        """Asyncio twin of `StreamTimer.opened`."""
        async with AsyncExitStack() as stack:
            with self._waiting():
                value = await stack.enter_async_context(manager)
            yield value

    async def events(self, events: AsyncIterable[T]) -> AsyncIterator[T]:
        """`events`, each within its time: the first chunk's, then the idle bound."""
        iterator = aiter(events)
        while True:
            with self._waiting():
                try:
                    event = await anext(iterator)
                except StopAsyncIteration:
                    return
            self.started = True
            yield event

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        if self.started:
            self.seconds, self.variable = self.bounds.budget(
                self.bounds.idle, "LLM_STREAM_IDLE_TIMEOUT"
            )
            self.due = time.monotonic() + self.seconds
        timer = LoopTimer(self.due - time.monotonic())
        try:
            yield
        except asyncio.CancelledError:
            if timer.timed_out():
                raise self.bounds.timed_out(self.seconds, self.variable, self.model) from None
            raise
        finally:
            timer.cancel()
