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

How an attempt is interrupted:

* **asyncio**: a loop timer cancels the task at the moment, as ``asyncio.timeout`` does, and
  the cancellation becomes `LLMTimeoutError`.
* **blocking**: one watchdog thread for the process (started on first use) shuts the
  attempt's socket down when its moment passes, which wakes the read blocked on it at once;
  httpx2 event hooks on the SDK clients (`SYNC_HOOKS`) hand it the socket when the reply's
  headers arrive and shorten the connect and header-wait timeouts to what is left before.

Per call this costs a few attribute stores, a set insertion and a context variable; nothing
runs on the request path that scales with the reply.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    asynccontextmanager,
    contextmanager,
    suppress,
)
from contextvars import ContextVar
from typing import Any, TypeVar

from persona_llm._deadline import seconds_left
from persona_llm._services import ProviderConfig
from persona_llm.errors import LLMTimeoutError, sanitize_exception

__all__ = ["SYNC_HOOKS", "AsyncStreamTimer", "StreamTimer", "TimeBounds"]

T = TypeVar("T")

# The watchdog looks at least this often. An attempt due later than its next look needs no
# wake-up call, so back-to-back calls with the usual bounds (seconds) never wake it.
_POLL = 1.0


class _Attempt:
    """One attempt's moment (`due`, monotonic), and the socket to shut when it passes."""

    __slots__ = ("armed", "due", "expired", "saved", "sock")

    def __init__(self, due: float) -> None:
        self.due = due
        self.armed = True  # False while a stream waits for its caller, not for the server
        self.expired = False
        self.sock: socket.socket | None = None
        self.saved: Any = None  # the request's own timeouts, put back once headers arrive

    def expire(self) -> None:
        self.expired = True
        sock = self.sock
        if sock is not None:
            with suppress(OSError):  # already closed: the attempt ended meanwhile
                sock.shutdown(socket.SHUT_RDWR)


_CURRENT: ContextVar[_Attempt | None] = ContextVar("persona_llm_attempt", default=None)


class _Watchdog:
    """The thread that expires blocking attempts; it sleeps until the nearest moment."""

    def __init__(self) -> None:
        self.live: set[_Attempt] = set()
        self.wake = threading.Event()
        self.next_look = float("inf")
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def add(self, attempt: _Attempt) -> None:
        self.live.add(attempt)
        if attempt.due < self.next_look:  # sooner than the thread will look: wake it
            if self.thread is None:
                self._start()
            self.wake.set()

    def discard(self, attempt: _Attempt) -> None:
        self.live.discard(attempt)

    def _start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="persona-llm-watchdog", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        while True:
            self.wake.clear()
            now = time.monotonic()
            nearest = now + _POLL
            for attempt in list(self.live):  # list(): other threads add and discard
                if not attempt.armed:
                    continue
                if attempt.due <= now:
                    attempt.expire()
                    self.live.discard(attempt)
                else:
                    nearest = min(nearest, attempt.due)
            self.next_look = nearest
            self.wake.wait(max(nearest - now, 0.0))

    def after_fork(self) -> None:
        self.__init__()  # type: ignore[misc]  # the thread did not survive the fork


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork)


# -- httpx2 hooks of the blocking SDK clients ---------------------------------------------


def _on_request(request: Any) -> None:
    """Shortens the request's connect, write, pool and read timeouts to what is left."""
    attempt = _CURRENT.get()
    if attempt is None:
        return
    timeouts = request.extensions.get("timeout")
    if not isinstance(timeouts, dict):
        return
    left = max(attempt.due - time.monotonic(), 0.001)
    attempt.saved = timeouts
    request.extensions["timeout"] = {
        name: left if value is None else min(value, left) for name, value in timeouts.items()
    }


def _on_response(response: Any) -> None:
    """Gives the attempt the reply's socket, so the watchdog can interrupt its reads."""
    attempt = _CURRENT.get()
    if attempt is None:
        return
    if attempt.saved is not None:  # body reads: the watchdog bounds them, httpx is a backstop
        response.request.extensions["timeout"] = attempt.saved
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        attempt.sock = sock
        if attempt.expired or (attempt.armed and attempt.due <= time.monotonic()):
            attempt.expire()


SYNC_HOOKS: dict[str, list[Any]] = {"request": [_on_request], "response": [_on_response]}
"""``event_hooks`` for the blocking SDK clients' httpx2 client."""


# -- the bounds -----------------------------------------------------------------------------


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
        attempt = _Attempt(time.monotonic() + seconds)
        token = _CURRENT.set(attempt)
        _WATCHDOG.add(attempt)
        try:
            yield
        except Exception as exc:
            if attempt.expired and not isinstance(exc, LLMTimeoutError):
                raise self.timed_out(seconds, variable, model) from sanitize_exception(
                    exc, self.secrets
                )
            raise
        finally:
            _WATCHDOG.discard(attempt)
            _CURRENT.reset(token)

    @contextmanager
    def arequest(self, model: str) -> Iterator[None]:
        """Bounds one asyncio request: use it inside the coroutine that awaits the SDK."""
        seconds, variable = self.budget(self.timeout, "LLM_TIMEOUT")
        timer = _LoopTimer(seconds)
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
        self.attempt = _Attempt(time.monotonic() + self.seconds)
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
            _WATCHDOG.discard(self.attempt)

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        attempt = self.attempt
        if self.started:  # after the first event: the idle bound, from now
            self.seconds, self.variable = self.bounds.budget(
                self.bounds.idle, "LLM_STREAM_IDLE_TIMEOUT"
            )
            attempt.due = time.monotonic() + self.seconds
        attempt.armed = True
        token = _CURRENT.set(attempt)
        _WATCHDOG.add(attempt)
        try:
            yield
        except Exception as exc:
            if attempt.expired and not isinstance(exc, LLMTimeoutError):
                _WATCHDOG.discard(attempt)
                error = self.bounds.timed_out(self.seconds, self.variable, self.model)
                raise error from sanitize_exception(exc, self.bounds.secrets)
            raise
        finally:
            attempt.armed = False
            _CURRENT.reset(token)


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
        timer = _LoopTimer(self.due - time.monotonic())
        try:
            yield
        except asyncio.CancelledError:
            if timer.timed_out():
                raise self.bounds.timed_out(self.seconds, self.variable, self.model) from None
            raise
        finally:
            timer.cancel()


class _LoopTimer:
    """Cancels the running task after `delay` seconds, as ``asyncio.timeout`` does."""

    __slots__ = ("cancelling", "fired", "handle", "task")

    def __init__(self, delay: float) -> None:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover  # the adapters always run inside a task
            raise RuntimeError("an asyncio time bound needs a running task")
        self.task = task
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        self.cancelling: int = cancelling() if cancelling is not None else 0
        self.fired = False
        self.handle = asyncio.get_running_loop().call_later(max(delay, 0.0), self._fire)

    def _fire(self) -> None:
        self.fired = True
        self.task.cancel()

    def timed_out(self) -> bool:
        """On a CancelledError: True when it was ours (and nobody else cancelled the task)."""
        if not self.fired:
            return False
        uncancel = getattr(self.task, "uncancel", None)  # Python 3.11+
        return uncancel is None or int(uncancel()) <= self.cancelling

    def cancel(self) -> None:
        self.handle.cancel()
