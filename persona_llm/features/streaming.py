"""Turning a stream back into the `ChatResponse` that ``chat()`` would have returned.

    chunks = []
    for chunk in client.stream(messages, tools=[get_weather]):
        print(chunk.delta, end="")
        chunks.append(chunk)
    reply = collect_stream(chunks)          # content, finish_reason, usage, tool_calls, refusal

`collect_stream` consumes any iterable of `ChatChunk`s (a live stream too: it iterates it to the
end, so errors raised mid-stream propagate); `acollect_stream` does the same for an async
iterator (`collect_stream` is generated from it by ``scripts/unasync.py``). The result's
`content` is the joined deltas, `refusal` the joined refusal pieces (None when there were none),
`reasoning` the joined reasoning pieces (None when there were none), and `provider_data`,
`finish_reason`, `usage` and `tool_calls` come from the last chunk. `provider` and `model`
are those the stream's last chunk reports (every adapter sets them); the `provider`/`model`
arguments are used for chunks that carry none (a hand-made stream). `parsed` stays None (parse
JSON mode text with `persona_llm.features.structured`) and `raw` is None.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.types import ChatChunk, ChatResponse, FinishReason, ToolCall, Usage

__all__ = ["StreamCollector", "acollect_stream", "collect_stream"]


class StreamCollector:
    """Accumulates chunks; `response` builds the `ChatResponse` (no I/O: both helpers use it)."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._reasoning: list[str] = []
        self.provider_data: dict[str, Any] = {}
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.tool_calls: list[ToolCall] = []
        self.provider: str | None = None
        self.model: str | None = None

    def add(self, chunk: ChatChunk) -> None:
        """Take one chunk into account."""
        self._text.append(chunk.delta)
        self._refusal.append(chunk.refusal)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        if chunk.provider_data:
            self.provider_data.update(chunk.provider_data)
        self.finish_reason = chunk.finish_reason or self.finish_reason
        self.usage = chunk.usage or self.usage
        self.tool_calls += chunk.tool_calls
        self.provider = chunk.provider or self.provider
        self.model = chunk.model or self.model

    def response(self, provider: str | None = None, model: str | None = None) -> ChatResponse:
        """The assembled reply.

        Raises:
            InvalidRequestError: neither the chunks nor the arguments name the provider
                and the model.
        """
        provider = self.provider or provider
        model = self.model or model
        if provider is None or model is None:
            raise InvalidRequestError(
                "the stream's chunks do not say which provider and model answered: pass "
                "provider= and model= to collect_stream",
                provider=provider,
                model=model,
            )
        return ChatResponse(
            content="".join(self._text),
            model=model,
            provider=provider,
            finish_reason=self.finish_reason,
            usage=self.usage,
            refusal="".join(self._refusal) or None,
            tool_calls=self.tool_calls,
            reasoning="".join(self._reasoning) or None,
            provider_data=self.provider_data,
        )


# unasync: source streaming
async def acollect_stream(
    chunks: AsyncIterable[ChatChunk], *, provider: str | None = None, model: str | None = None
) -> ChatResponse:
    """The `ChatResponse` of a whole stream (see the module docstring).

    Raises:
        InvalidRequestError: no provider or model is known (see `StreamCollector.response`);
            any error the stream itself raises.
    """
    collector = StreamCollector()
    async for chunk in chunks:
        collector.add(chunk)
    return collector.response(provider, model)


# unasync: end
# unasync: generated streaming (do not edit: scripts/unasync.py writes it)
def collect_stream(
    chunks: Iterable[ChatChunk], *, provider: str | None = None, model: str | None = None
) -> ChatResponse:
    """The `ChatResponse` of a whole stream (see the module docstring).

    Raises:
        InvalidRequestError: no provider or model is known (see `StreamCollector.response`);
            any error the stream itself raises.
    """
    collector = StreamCollector()
    for chunk in chunks:
        collector.add(chunk)
    return collector.response(provider, model)


# unasync: end
