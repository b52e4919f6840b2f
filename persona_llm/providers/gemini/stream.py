"""Gemini streaming support: the state that turns streamed replies into chunks, and the
bookkeeping that lets an asyncio stream close its HTTP responses itself.

`GeminiStreamState` is pure. Gemini streams whole ``functionCall`` parts (never argument
fragments), possibly in several events: they are collected, numbered across the stream as
``chat()`` numbers them in one reply (so the synthesized ids match), and carried by the last
chunk with the finish reason (``tool_calls`` when there are any), the usage and the model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import httpx2

from persona_llm.providers.gemini.mapping import PROVIDER, candidate_parts, from_gemini_chunk
from persona_llm.providers.gemini.tools import gemini_tool_calls
from persona_llm.types import ChatChunk, ToolCall

__all__ = ["GeminiStreamState", "collect_response", "next_event"]


class GeminiStreamState:
    """What one stream has said so far; `feed` turns each streamed reply into a chunk."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.finished = False
        self._calls: list[ToolCall] = []
        self._reported_model: str | None = None

    def feed(self, event: Any) -> ChatChunk:
        """The chunk of one streamed ``GenerateContentResponse``.

        Raises:
            ContentFilterError: the prompt was blocked.
        """
        chunk = from_gemini_chunk(event, self.model)
        self._calls += gemini_tool_calls(candidate_parts(event), start=len(self._calls))
        self._reported_model = getattr(event, "model_version", None) or self._reported_model
        if chunk.finish_reason is None:
            return chunk
        self.finished = True
        finish = chunk.finish_reason
        if finish == "stop" and self._calls:
            finish = "tool_calls"  # Gemini says STOP for function calls too
        return chunk.model_copy(
            update={
                "finish_reason": finish,
                "tool_calls": list(self._calls),
                "model": self._reported_model or self.model,
                "provider": PROVIDER,
            }
        )


# The httpx2 responses an asyncio stream step opened. The SDK's async stream keeps its response
# in a reference cycle, so closing the SDK iterator early does not close the response until a
# garbage collection; the stream closes the responses collected here itself.
_OPENED_RESPONSES: ContextVar[list[httpx2.Response] | None] = ContextVar(
    "persona_llm_gemini_opened_responses", default=None
)


async def collect_response(response: httpx2.Response) -> None:
    """httpx2 response hook: hands each response to the stream step awaiting it, if any."""
    opened = _OPENED_RESPONSES.get()
    if opened is not None:
        opened.append(response)


async def next_event(events: AsyncIterator[Any], opened: list[httpx2.Response]) -> Any | None:
    """The next streamed reply (None at the end), collecting the responses it opens."""
    token = _OPENED_RESPONSES.set(opened)
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None
    finally:
        _OPENED_RESPONSES.reset(token)
