"""The fake provider: deterministic, offline, for tests and demos (``LLM_SERVICE=fake/<name>``).

Replies come from a script (a list consumed in order, or a function of the messages); with no
script the fake answers by itself: in JSON mode with a schema (a ``json_schema`` response
format, or a ``response_model``) a schema-valid instance generated from the schema, its
strings taken from the request's text and deterministic for a given ``seed``
(`providers._fake_json`); in plain JSON mode the small object ``{"echo": <last user
message>}``; otherwise the last user message, echoed. So every documented example, the
Persona workflows included, runs on ``LLM_SERVICE=fake/<name>`` as written. Every call is
recorded (the request, with its
tools and tool choice). Embeddings are deterministic unit vectors: the same text always gives
the same vector.

A scripted `ToolCall`, or a list of them, is a reply that calls those tools (``content=""``,
``finish_reason="tool_calls"``), for testing tool loops; streamed, the last chunk carries them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from persona_llm.arguments import request_for
from persona_llm.content import describe_content
from persona_llm.errors import LLMError, ResponseParseError
from persona_llm.providers._fake_json import phrase_words, schema_instance
from persona_llm.providers.base import ProviderAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.types import (
    Capabilities,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Embeddings,
    FinishReason,
    ToolCall,
    Usage,
)

__all__ = ["FakeCall", "FakeProvider", "FakeReply", "FakeScriptExhaustedError", "fake_vector"]

FakeReply = Union[  # noqa: UP007
    str, Mapping[str, Any], ChatResponse, ToolCall, Sequence[ToolCall], BaseException
]
"""A scripted reply: text, a dict (sent as JSON), a `ChatResponse`, tool calls (one
`ToolCall` or a list), or an error to raise."""

ReplyFunction = Callable[[Sequence[ChatMessage]], FakeReply]


class FakeScriptExhaustedError(LLMError):
    """The fake was given a script and every scripted reply has been used."""


@dataclass(frozen=True)
class FakeCall:
    """One recorded call: `kind` is ``chat``, ``stream`` or ``embeddings``."""

    kind: str
    model: str
    request: ChatRequest | None = None
    texts: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


def fake_vector(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def _words(text: str) -> int:
    return len(text.split())


class FakeProvider(ProviderAdapter):
    """A scripted provider adapter; usable wherever a real adapter is.

    Args:
        replies: a list of scripted replies (consumed in order) or a function of the messages.
            None means echo mode.
        embedding_dimensions: length of the fake embedding vectors.
        delay: seconds each call waits (asyncio calls wait without blocking the loop).
        strict_json: in JSON mode, raise `ResponseParseError` when a scripted reply is not
            valid JSON (a real provider's JSON mode never returns prose). Turn it off to
            simulate a sloppy model.
        seed: seeds the unscripted schema-valid replies: the same seed and request give the
            same reply.
    """

    name: str = "fake"
    capabilities: ClassVar[Capabilities] = Capabilities(
        chat=True,
        embeddings=True,
        json_mode=True,
        streaming=True,
        tools=True,
        vision=True,
        documents=True,
        audio_input=True,
        reasoning=True,
    )

    def __init__(
        self,
        replies: Iterable[FakeReply] | ReplyFunction | None = None,
        *,
        embedding_dimensions: int = 8,
        delay: float = 0.0,
        strict_json: bool = True,
        seed: int = 0,
        config: ProviderConfig | None = None,
    ) -> None:
        self._function: ReplyFunction | None = replies if callable(replies) else None
        self._script: deque[FakeReply] = deque()
        self._scripted = replies is not None
        if replies is not None and not callable(replies):
            self._script.extend(replies)
        self.embedding_dimensions = (
            config.embedding_dimensions if config and config.embedding_dimensions else None
        ) or embedding_dimensions
        self.delay = delay
        self.strict_json = strict_json
        self.seed = seed
        self.calls: list[FakeCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    # -- scripting and inspection -------------------------------------------------------

    def enqueue(self, *replies: FakeReply) -> None:
        """Append scripted replies (switches echo mode off)."""
        with self._lock:
            self._scripted = True
            self._script.extend(replies)

    @property
    def last_request(self) -> ChatRequest:
        """The request of the most recent chat or stream call."""
        for call in reversed(self.calls):
            if call.request is not None:
                return call.request
        raise AssertionError("the fake provider has received no chat call yet")

    # -- chat ---------------------------------------------------------------------------

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Answer from the script (or echo), after `delay` seconds."""
        self._enter("chat", model, request)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._reply(model, request)
        finally:
            self._leave()

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`; the delay does not block the loop."""
        self._enter("chat", model, request)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._reply(model, request)
        finally:
            self._leave()

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """The scripted reply, one word per chunk."""
        self._enter("stream", model, request)
        try:
            response = self._reply(model, request)
        finally:
            self._leave()
        return iter(_chunks(response))

    async def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream`."""
        self._enter("stream", model, request)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            response = self._reply(model, request)
        finally:
            self._leave()
        for chunk in _chunks(response):
            yield chunk

    # -- embeddings ---------------------------------------------------------------------

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Deterministic unit vectors, one per text."""
        with self._lock:
            self.calls.append(FakeCall("embeddings", model, texts=tuple(texts), options=options))
        dimensions = int(options.get("dimensions") or self.embedding_dimensions)
        vectors = (fake_vector(text, dimensions) for text in texts)
        return Embeddings(vectors, usage=Usage(prompt_tokens=sum(_words(t) for t in texts)))

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Asyncio twin of `embeddings`."""
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.embeddings(model, texts, options)

    # -- internals ----------------------------------------------------------------------

    def _enter(self, kind: str, model: str, request: ChatRequest) -> None:
        with self._lock:
            self.calls.append(FakeCall(kind, model, request=request_for(request, self.name)))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _next_scripted(self, request: ChatRequest) -> FakeReply | None:
        if self._function is not None:
            return self._function(request.messages)
        with self._lock:
            if self._script:
                return self._script.popleft()
            if not self._scripted:
                return None
        raise FakeScriptExhaustedError(
            f"the fake provider's script is used up after {len(self.calls) - 1} replies; "
            "enqueue() more replies or pass a reply function",
            provider=self.name,
        )

    def _reply(self, model: str, request: ChatRequest) -> ChatResponse:
        reply = self._next_scripted(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ChatResponse):
            return reply
        calls = _tool_calls_of(reply)
        if calls:
            return self._tool_call_reply(model, request, calls)
        if reply is None:
            text = _unscripted(request, self.seed)
        elif isinstance(reply, Mapping):
            text = json.dumps(reply)
        else:
            text = str(reply)
        if request.json_mode and self.strict_json:
            _check_json(text, model)
        if request.max_tokens is not None and _words(text) > request.max_tokens:
            text = " ".join(text.split()[: request.max_tokens])
            finish: FinishReason = "length"
        else:
            finish = "stop"
        prompt = sum(_words(m.text) for m in request.messages)
        return ChatResponse(
            content=text,
            model=model,
            provider=self.name,
            finish_reason=finish,
            usage=Usage(prompt_tokens=prompt, completion_tokens=_words(text)),
            raw={"scripted": reply is not None},
        )

    def _tool_call_reply(
        self, model: str, request: ChatRequest, calls: list[ToolCall]
    ) -> ChatResponse:
        prompt = sum(_words(m.text) for m in request.messages)
        return ChatResponse(
            model=model,
            provider=self.name,
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=prompt, completion_tokens=len(calls)),
            tool_calls=calls,
            raw={"scripted": True},
        )


def _tool_calls_of(reply: object) -> list[ToolCall]:
    """The calls of a scripted tool-call reply (one `ToolCall` or a list); else ``[]``."""
    if isinstance(reply, ToolCall):
        return [reply]
    if isinstance(reply, (list, tuple)) and reply and all(isinstance(r, ToolCall) for r in reply):
        return list(reply)
    return []


def _unscripted(request: ChatRequest, seed: int) -> str:
    """The reply without a script: a schema instance in JSON mode with a schema, else echo."""
    schema = _schema_of(request) if request.json_mode else None
    if schema is None:
        return _echo(request)
    conversation = "\n".join(f"{m.role}: {m.content}" for m in request.messages)
    digest = hashlib.sha256(f"{seed}\0{conversation}\0{json.dumps(schema)}".encode()).digest()
    last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    words = phrase_words(last_user if isinstance(last_user, str) else str(last_user))
    return json.dumps(schema_instance(schema, random.Random(digest), words))


def _schema_of(request: ChatRequest) -> Mapping[str, Any] | None:
    response_format = request.response_format or {}
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else response_format.get("schema")
    return schema if isinstance(schema, Mapping) else None


def _echo(request: ChatRequest) -> str:
    # Parts are described, media as labels: "What is this? [image/png 48,213 bytes]".
    last_user = next(
        (describe_content(m.content) for m in reversed(request.messages) if m.role == "user"), ""
    )
    return json.dumps({"echo": last_user}) if request.json_mode else last_user


def _check_json(text: str, model: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResponseParseError(
            f"scripted reply is not valid JSON although JSON mode was requested ({exc}); "
            "script a JSON reply or build the fake with strict_json=False",
            provider="fake",
            model=model,
            raw_text=text,
            errors=[str(exc)],
        ) from None


def _chunks(response: ChatResponse) -> list[ChatChunk]:
    words = response.content.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)] if response.content else []
    chunks = [ChatChunk(delta=p) for p in pieces]
    if response.refusal:
        chunks.append(ChatChunk(refusal=response.refusal))
    chunks.append(
        ChatChunk(
            finish_reason=response.finish_reason,
            usage=response.usage,
            tool_calls=response.tool_calls,
            model=response.model,
            provider=response.provider,
        )
    )
    return chunks
