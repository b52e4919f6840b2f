"""What the reliability wrappers share: the `Target` they call and the delegating base class.

A wrapper is itself a `ProviderAdapter`, so it goes wherever an adapter goes (a facade, another
wrapper, a test) and the facades do not know it is there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from persona_llm.providers.base import ProviderAdapter
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = [
    "AdapterWrapper",
    "Target",
    "afirst_visible",
    "common_capabilities",
    "failing_async_iterator",
    "failing_iterator",
    "first_visible",
    "is_visible",
]


@dataclass(frozen=True)
class Target:
    """An adapter and the model to call it with.

    Attributes:
        adapter: the provider adapter (or another wrapper).
        model: the model or deployment; None means the model the caller passed, which is
            how the facade's model (``LLM_SERVICE``) reaches the primary target.
        weight: share of a pool's calls (see `PoolAdapter`).
    """

    adapter: ProviderAdapter
    model: str | None = None
    weight: int = 1

    def model_for(self, model: str) -> str:
        """The model to send: this target's own, else the caller's."""
        return self.model or model

    def label(self, model: str) -> str:
        """``provider/model`` for logs and messages (never a key)."""
        return f"{self.adapter.name}/{self.model_for(model)}"


def common_capabilities(targets: Sequence[Target]) -> Capabilities:
    """What every target can do; embeddings are the first target's (they never fail over)."""
    caps = [target.adapter.capabilities for target in targets]
    return Capabilities(
        chat=all(c.chat for c in caps),
        embeddings=caps[0].embeddings,
        json_mode=all(c.json_mode for c in caps),
        streaming=all(c.streaming for c in caps),
        tools=all(c.tools for c in caps),
        # Media and reasoning: a request goes to the targets that take it (the others are
        # skipped with a WARNING), so one able target is enough.
        vision=any(c.vision for c in caps),
        documents=any(c.documents for c in caps),
        audio_input=any(c.audio_input for c in caps),
        reasoning=any(c.reasoning for c in caps),
    )


def is_visible(chunk: ChatChunk) -> bool:
    """Whether the caller can see content in `chunk`: text, a refusal, tool calls, the end.

    A stream is retried and failed over until its first visible chunk: a thought-only or
    otherwise empty chunk shows the caller nothing, so a failure after it is still retried.
    """
    return bool(chunk.delta or chunk.refusal or chunk.tool_calls or chunk.finish_reason)


# unasync: source wrapper.streams
async def afirst_visible(iterator: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    """The chunks of `iterator` up to its first visible one ([] when it ends at once)."""
    head: list[ChatChunk] = []
    async for chunk in iterator:  # a break here leaves the iterator open for the rest
        head.append(chunk)
        if is_visible(chunk):
            break
    return head


async def failing_async_iterator(error: BaseException) -> AsyncIterator[ChatChunk]:
    """A stream that fails with `error` when first read."""
    raise error
    yield  # pragma: no cover  # makes this a generator


# unasync: end
# unasync: generated wrapper.streams (do not edit: scripts/unasync.py writes it)
def first_visible(iterator: Iterator[ChatChunk]) -> list[ChatChunk]:
    """The chunks of `iterator` up to its first visible one ([] when it ends at once)."""
    head: list[ChatChunk] = []
    for chunk in iterator:  # a break here leaves the iterator open for the rest
        head.append(chunk)
        if is_visible(chunk):
            break
    return head


def failing_iterator(error: BaseException) -> Iterator[ChatChunk]:
    """A stream that fails with `error` when first read."""
    raise error
    yield  # pragma: no cover  # makes this a generator


# unasync: end


class AdapterWrapper(ProviderAdapter):
    """A `ProviderAdapter` that hands every call to another one.

    `name` and `capabilities` are the wrapped adapter's. Subclasses override the calls they
    add behaviour to.
    """

    def __init__(self, adapter: ProviderAdapter) -> None:
        self.adapter = adapter
        self.name = adapter.name

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]  # a ClassVar on adapters
        """The wrapped adapter's capabilities."""
        return self.adapter.capabilities

    def capabilities_for(self, model: str) -> Capabilities:
        """The wrapped adapter's, for `model`."""
        return self.adapter.capabilities_for(model)

    def check_request(self, model: str, request: ChatRequest) -> None:
        """The wrapped adapter's check."""
        self.adapter.check_request(model, request)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapter!r})"

    # unasync: source wrapper.calls
    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Delegate to the wrapped adapter."""
        return await self.adapter.achat(model, request)

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Delegate to the wrapped adapter."""
        return self.adapter.astream(model, request)

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Delegate to the wrapped adapter."""
        return await self.adapter.aembeddings(model, texts, options)

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self.adapter.aclose()

    # unasync: end
    # unasync: generated wrapper.calls (do not edit: scripts/unasync.py writes it)
    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Delegate to the wrapped adapter."""
        return self.adapter.chat(model, request)

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Delegate to the wrapped adapter."""
        return self.adapter.stream(model, request)

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Delegate to the wrapped adapter."""
        return self.adapter.embeddings(model, texts, options)

    def close(self) -> None:
        """Close the wrapped adapter."""
        self.adapter.close()

    # unasync: end
