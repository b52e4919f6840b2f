"""The clients applications call: blocking first, with a mirrored asyncio twin.

`ChatClient`/`AsyncChatClient` and `EmbeddingClient`/`AsyncEmbeddingClient` mirror each other
method for method over a shared base that does no I/O (`persona_llm._client_base`): it
validates the messages and options, then hands a `ChatRequest` to the provider adapter. The
blocking classes are generated from the asyncio ones by ``scripts/unasync.py``: edit the
asyncio class, then run the script (see docs/contributing-twins.md; a test fails while the
blocking twin is stale).

Tools (``tools=[...]``, ``tool_choice=...``) are normalized by `features.tools` before the
call; a provider without tool calling raises `InvalidRequestError` before sending. In JSON mode
with tools, a reply that calls tools is returned as it is (``parsed`` stays None): the tools
must run before there is an answer to parse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from persona_llm._client_base import _AsyncClosing, _check_texts, _ClientBase, _ToolCallReply
from persona_llm.types import ChatChunk, ChatMessage, ChatResponse, MessageInput, Reasoning

if TYPE_CHECKING:  # imported on first use: JSON mode and tools only
    from persona_llm.features.tools import ToolChoiceLike, ToolLike

__all__ = ["AsyncChatClient", "AsyncEmbeddingClient", "ChatClient", "EmbeddingClient"]


# unasync: source clients.chat
class AsyncChatClient(_AsyncClosing, _ClientBase):
    """Asyncio chat client over the SDKs' native asyncio clients.

    Get it with `persona_llm.get_async_chat_client()`.
    """

    async def chat(
        self,
        messages: Iterable[MessageInput],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        response_model: type[BaseModel] | None = None,
        max_reasks: int = 1,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
        **options: Any,
    ) -> ChatResponse:
        """Send the conversation and return the reply.

        Options left at None are not sent, so the provider's default applies. Keyword
        options follow `persona_llm.arguments`: common ones (``top_p``, ``seed``, ``n``...),
        ``provider_options={"anthropic": {...}}`` (that provider only), ``extra_body`` and
        ``extra_headers``; any other keyword raises `InvalidRequestError`.

        In JSON mode (``response_format`` of type ``json_object`` or ``json_schema``, or a
        pydantic ``response_model``) the reply is parsed into `ChatResponse.parsed` (a dict or
        list, or a `response_model` instance); an unusable reply is re-asked up to
        `max_reasks` times, then raises `ResponseParseError`. See `persona_llm.features.structured`.

        `tools` (functions, pydantic models, schema dicts or `Tool`s, see `features.tools`)
        are offered to the model; its calls come back in `ChatResponse.tool_calls`.
        `tool_choice` is ``"auto"``, ``"none"``, ``"required"`` or a tool (name).

        Message content may hold parts (images, documents, audio: `persona_llm.content`).
        `reasoning` (``"none"``, ``"low"``, ``"medium"``, ``"high"``; None: the client's
        default, ``LLM_REASONING``) is mapped per provider; the reply's reasoning text is in
        `ChatResponse.reasoning`. `cache_prompt` marks the system prompt and the tools as a
        cacheable prefix (Anthropic ``cache_control``; OpenAI and Gemini cache on their own).
        See docs/content.md.
        """
        model = self._call_model(options)
        request, output = self._json_request(
            messages,
            temperature,
            max_tokens,
            response_format,
            stop,
            response_model,
            max_reasks,
            options,
            tools,
            tool_choice,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )
        if output is None:
            return await self.adapter.achat(model, request)

        async def send(conversation: tuple[ChatMessage, ...]) -> ChatResponse:
            response = await self.adapter.achat(
                model, request.model_copy(update={"messages": conversation})
            )
            return self._stop_for_tool_calls(request, response)

        try:
            from persona_llm.features import structured

            return await structured.acomplete(
                send, request.messages, output.validate, max_reasks=max_reasks
            )
        except _ToolCallReply as reply:
            return reply.response

    def stream(
        self,
        messages: Iterable[MessageInput],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
        **options: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Stream the reply; the last chunk carries `finish_reason`, `usage` and the
        assembled `tool_calls`. `persona_llm.features.streaming.acollect_stream` makes a
        `ChatResponse` of the chunks."""
        model = self._call_model(options)
        if options.get("n", 1) != 1:
            raise self._invalid("n > 1 is for chat(): stream() streams one reply")
        request = self._request(
            messages,
            temperature,
            max_tokens,
            response_format,
            stop,
            options,
            tools,
            tool_choice,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )
        return self.adapter.astream(model, request)


# unasync: end
# unasync: generated clients.chat (do not edit: scripts/unasync.py writes it)
class ChatClient(_ClientBase):
    """Blocking chat client over the SDKs' native blocking clients.

    Get it with `persona_llm.get_chat_client()`.
    """

    def chat(
        self,
        messages: Iterable[MessageInput],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        response_model: type[BaseModel] | None = None,
        max_reasks: int = 1,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
        **options: Any,
    ) -> ChatResponse:
        """Send the conversation and return the reply.

        Options left at None are not sent, so the provider's default applies. Keyword
        options follow `persona_llm.arguments`: common ones (``top_p``, ``seed``, ``n``...),
        ``provider_options={"anthropic": {...}}`` (that provider only), ``extra_body`` and
        ``extra_headers``; any other keyword raises `InvalidRequestError`.

        In JSON mode (``response_format`` of type ``json_object`` or ``json_schema``, or a
        pydantic ``response_model``) the reply is parsed into `ChatResponse.parsed` (a dict or
        list, or a `response_model` instance); an unusable reply is re-asked up to
        `max_reasks` times, then raises `ResponseParseError`. See `persona_llm.features.structured`.

        `tools` (functions, pydantic models, schema dicts or `Tool`s, see `features.tools`)
        are offered to the model; its calls come back in `ChatResponse.tool_calls`.
        `tool_choice` is ``"auto"``, ``"none"``, ``"required"`` or a tool (name).

        Message content may hold parts (images, documents, audio: `persona_llm.content`).
        `reasoning` (``"none"``, ``"low"``, ``"medium"``, ``"high"``; None: the client's
        default, ``LLM_REASONING``) is mapped per provider; the reply's reasoning text is in
        `ChatResponse.reasoning`. `cache_prompt` marks the system prompt and the tools as a
        cacheable prefix (Anthropic ``cache_control``; OpenAI and Gemini cache on their own).
        See docs/content.md.
        """
        model = self._call_model(options)
        request, output = self._json_request(
            messages,
            temperature,
            max_tokens,
            response_format,
            stop,
            response_model,
            max_reasks,
            options,
            tools,
            tool_choice,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )
        if output is None:
            return self.adapter.chat(model, request)

        def send(conversation: tuple[ChatMessage, ...]) -> ChatResponse:
            response = self.adapter.chat(
                model, request.model_copy(update={"messages": conversation})
            )
            return self._stop_for_tool_calls(request, response)

        try:
            from persona_llm.features import structured

            return structured.complete(
                send, request.messages, output.validate, max_reasks=max_reasks
            )
        except _ToolCallReply as reply:
            return reply.response

    def stream(
        self,
        messages: Iterable[MessageInput],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
        **options: Any,
    ) -> Iterator[ChatChunk]:
        """Stream the reply; the last chunk carries `finish_reason`, `usage` and the
        assembled `tool_calls`. `persona_llm.features.streaming.collect_stream` makes a
        `ChatResponse` of the chunks."""
        model = self._call_model(options)
        if options.get("n", 1) != 1:
            raise self._invalid("n > 1 is for chat(): stream() streams one reply")
        request = self._request(
            messages,
            temperature,
            max_tokens,
            response_format,
            stop,
            options,
            tools,
            tool_choice,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )
        return self.adapter.stream(model, request)


# unasync: end


# unasync: source clients.embeddings
class AsyncEmbeddingClient(_AsyncClosing, _ClientBase):
    """Asyncio embedding client. Get it with `persona_llm.get_async_embedding_client()`."""

    kind = "embedding"

    async def embeddings(self, texts: Sequence[str], **options: Any) -> list[list[float]]:
        """One vector per text, in input order; an empty list gives `[]` without a call."""
        items = _check_texts(self, texts)
        return await self.adapter.aembeddings(self.model, items, options) if items else []


# unasync: end
# unasync: generated clients.embeddings (do not edit: scripts/unasync.py writes it)
class EmbeddingClient(_ClientBase):
    """Blocking embedding client. Get it with `persona_llm.get_embedding_client()`."""

    kind = "embedding"

    def embeddings(self, texts: Sequence[str], **options: Any) -> list[list[float]]:
        """One vector per text, in input order; an empty list gives `[]` without a call."""
        items = _check_texts(self, texts)
        return self.adapter.embeddings(self.model, items, options) if items else []


# unasync: end
