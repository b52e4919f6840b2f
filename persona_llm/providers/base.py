"""The interface every provider adapter implements.

An adapter is one provider connection: it owns the provider's SDK clients (blocking, and one
asyncio client per event loop) and turns a `ChatRequest` into an SDK call and the SDK's reply
into a `ChatResponse`. The model is a call argument, so one adapter serves the chat and the
embedding facades of its provider. Mapping lives in pure functions beside each adapter; the
adapter itself only calls the SDK inside its error translation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from persona_llm.errors import InvalidRequestError, ResponseParseError
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = ["PerLoop", "ProviderAdapter", "check_dimensions"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One object per running event loop, built on first use in that loop.

    SDK asyncio clients hold connection pools bound to the loop they first ran in; reusing
    one after `asyncio.run()` returned fails with "Event loop is closed". Keying on the loop
    lets successive `asyncio.run()` calls in one process each get a working client.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ShutdownCloser] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        """The object for the running loop (built now if this loop has none).

        It is closed (``aclose()`` or ``close()``, awaited) when the loop shuts down, as
        ``asyncio.run()`` and ``asyncio.Runner`` do before closing it, so no connection of
        a finished loop is left to the garbage collector.
        """
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
            self._closers[loop] = _ShutdownCloser(item)
        return item

    def items(self) -> list[tuple[asyncio.AbstractEventLoop, T]]:
        """Loops still alive and their objects."""
        return list(self._items.items())

    def pop(self) -> T | None:
        """Remove and return the running loop's object, if it has one."""
        loop = asyncio.get_running_loop()
        closer = self._closers.pop(loop, None)
        if closer is not None:
            closer.cancel()
        return self._items.pop(loop, None)

    def clear(self) -> None:
        """Forget every object (they are not closed)."""
        for closer in list(self._closers.values()):
            closer.cancel()
        self._closers.clear()
        self._items.clear()


class _ShutdownCloser:
    """Closes an object when its event loop shuts down.

    ``loop.shutdown_asyncgens()``, which ``asyncio.run()`` and ``asyncio.Runner`` call before
    closing the loop, closes (inside the loop, awaiting each) every async generator the loop
    saw start. The generator here is started at once, registered with the loop but without
    its finalizer hook, so it holds no reference to the loop and a loop closed some other way
    is still freed; then nothing is awaited and the object is left to the collector.
    """

    def __init__(self, item: Any) -> None:
        self.item: Any = item
        self.generator = self._close_at_end()
        firstiter, finalizer = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter, None)
        try:
            with contextlib.suppress(StopIteration):  # runs to its yield: nothing awaited
                self.generator.asend(None).send(None)
        finally:
            sys.set_asyncgen_hooks(firstiter, finalizer)

    async def _close_at_end(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            item, self.item = self.item, None
            if item is not None and _loop_running():
                close = getattr(item, "aclose", None) or getattr(item, "close", None)
                with contextlib.suppress(Exception):  # closed already, or half-built
                    result = close() if close is not None else None
                    if inspect.isawaitable(result):
                        await result

    def cancel(self) -> None:
        """The object was closed (or handed on) another way: end without touching it."""
        self.item = None
        with contextlib.suppress(StopIteration, RuntimeError):
            self.generator.aclose().send(None)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ProviderAdapter:
    """Base class of the provider adapters.

    Subclasses set `name` (the provider reported on every reply and error; an instance may
    narrow it, e.g. ``ollama`` for the OpenAI adapter on an Ollama server) and `capabilities`,
    and implement `chat`/`achat`. Streaming and embeddings are optional: absent, they raise
    `InvalidRequestError` naming the provider.
    """

    name: str = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def capabilities_for(self, model: str) -> Capabilities:
        """What this adapter can do with `model` (the class's `capabilities`, narrowed by a
        provider that knows its models: OpenAI's text-only models take no images)."""
        return self.capabilities

    def check_request(self, model: str, request: ChatRequest) -> None:
        """Raise `InvalidRequestError` if `model` cannot take `request`'s content parts (or
        reasoning level), without sending anything. Failover uses it to skip targets."""

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Send one chat request and return the normalized reply."""
        raise NotImplementedError

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`."""
        raise NotImplementedError

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream one chat reply as chunks."""
        raise self._unsupported("streaming", model)

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream`."""
        raise self._unsupported("streaming", model)

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """One vector per text, in input order."""
        raise self._unsupported("embeddings", model)

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Asyncio twin of `embeddings`."""
        raise self._unsupported("embeddings", model)

    def close(self) -> None:
        """Release the SDK clients' connections (called by `reset_clients()`)."""

    async def aclose(self) -> None:
        """Close the running loop's asyncio SDK client; call it before the loop ends."""

    def _unsupported(self, feature: str, model: str) -> InvalidRequestError:
        return InvalidRequestError(
            f"the {self.name} provider does not support {feature}; "
            "check client.capabilities before calling, or configure another provider",
            provider=self.name,
            model=model,
        )


def check_dimensions(
    vectors: Sequence[Sequence[float]], dimensions: int | None, *, provider: str, model: str
) -> None:
    """Raise unless every vector has the `dimensions` asked for (None: no check).

    A vector index built for one length (the Persona app's is 1536) must never receive
    another silently: a provider that ignores the setting, or a model that cannot shorten
    its vectors, is an error.

    Raises:
        ResponseParseError: a vector of another length, naming both lengths.
    """
    if not dimensions:
        return
    wrong = {len(vector) for vector in vectors} - {dimensions}
    if wrong:
        raise ResponseParseError(
            f"the embedding model returned vectors of {sorted(wrong)} dimensions, not the "
            f"{dimensions} asked for (EMBEDDING_DIMENSIONS); use a model that supports it",
            errors=[f"expected {dimensions} dimensions, got {sorted(wrong)}"],
            provider=provider,
            model=model,
        )
