"""The interface every provider adapter implements.

An adapter is one provider connection: it owns the provider's SDK clients (blocking, and one
asyncio client per event loop) and turns a `ChatRequest` into an SDK call and the SDK's reply
into a `ChatResponse`. The model is a call argument, so one adapter serves the chat and the
embedding facades of its provider. Mapping lives in pure functions beside each adapter; the
adapter itself only calls the SDK inside its error translation.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
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

    def get(self) -> T:
        """The object for the running loop (built now if this loop has none)."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    def items(self) -> list[tuple[asyncio.AbstractEventLoop, T]]:
        """Loops still alive and their objects."""
        return list(self._items.items())

    def pop(self) -> T | None:
        """Remove and return the running loop's object, if it has one."""
        return self._items.pop(asyncio.get_running_loop(), None)

    def clear(self) -> None:
        """Forget every object (they are not closed)."""
        self._items.clear()


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
