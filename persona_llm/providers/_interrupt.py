"""What interrupts an attempt when its moment passes (`persona_llm.providers._timebox` sets
the moments).

How an attempt is interrupted:

* **asyncio**: a loop timer cancels the task at the moment, as ``asyncio.timeout`` does, and
  the cancellation becomes `LLMTimeoutError`.
* **blocking**: one watchdog thread for the process (started on first use) shuts the
  attempt's socket down when its moment passes, which wakes the read blocked on it at once;
  httpx2 event hooks on the SDK clients (`SYNC_HOOKS`) hand it the socket when the reply's
  headers arrive and shorten the connect and header-wait timeouts to what is left before.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from contextlib import suppress
from contextvars import ContextVar
from typing import Any

__all__ = ["CURRENT", "SYNC_HOOKS", "WATCHDOG", "Attempt", "LoopTimer"]

# The watchdog looks at least this often. An attempt due later than its next look needs no
# wake-up call, so back-to-back calls with the usual bounds (seconds) never wake it.
_POLL = 1.0


class Attempt:
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


CURRENT: ContextVar[Attempt | None] = ContextVar("persona_llm_attempt", default=None)


class Watchdog:
    """The thread that expires blocking attempts; it sleeps until the nearest moment."""

    def __init__(self) -> None:
        self.live: set[Attempt] = set()
        self.wake = threading.Event()
        self.next_look = float("inf")
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def add(self, attempt: Attempt) -> None:
        self.live.add(attempt)
        if attempt.due < self.next_look:  # sooner than the thread will look: wake it
            if self.thread is None:
                self._start()
            self.wake.set()

    def discard(self, attempt: Attempt) -> None:
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


WATCHDOG = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG.after_fork)


# -- httpx2 hooks of the blocking SDK clients ---------------------------------------------


def _on_request(request: Any) -> None:
    """Shortens the request's connect, write, pool and read timeouts to what is left."""
    attempt = CURRENT.get()
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
    attempt = CURRENT.get()
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


class LoopTimer:
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
