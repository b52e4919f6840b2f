"""`ObservedAdapter`: a provider adapter wrapper that measures, prices and reports every call.

Wrapped around any `ProviderAdapter`, it keeps the adapter's interface and, for each chat,
stream and embeddings call (blocking and asyncio):

1. checks the usage budgets (`UsageTracker.check_budget`) before anything is sent;
2. calls the request hooks and logs a DEBUG request summary;
3. times the call inside an OpenTelemetry span (when available);
4. prices the usage (`PriceTable`), puts the cost on the response when `ChatResponse` has a
   ``cost_usd`` field, records a `UsageRecord` in the tracker, calls the response or error
   hooks and logs the outcome.

Streams are recorded when they end, from the last usage a chunk carried; a stream the caller
abandons (``break``, ``close()``) records what it saw, and closes the inner stream. An
abandoned asyncio stream is recorded when it is closed: use ``contextlib.aclosing`` or call
``aclose()``; otherwise that happens when the event loop finalizes it. A stream that is
never iterated at all is never recorded (its request hook has run, its span is not ended).

State features (``LLM_STATE``, ``LLM_RATE_LIMITS``, ``LLM_CACHE``): with ``notes=True`` each
chat and embeddings call carries a `persona_llm.state.notes.CallNotes` that the limiter,
cache and store guard fill in; the record and the span show the rate-limit wait, a local
refusal, the cache hit or miss and store errors. A cached reply costs 0.

Embeddings: token counts (and so cost) come from the `Embeddings.usage` the adapter returns
(OpenAI, Azure and the fake report it; Gemini's batch endpoint does not, so its embedding calls
record count and latency only).

The steps around each call live in `persona_llm.usage.steps`; this module holds the calls
(asyncio source and generated blocking twin).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from persona_llm.providers.base import ProviderAdapter
from persona_llm.state.notes import noting_if
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse
from persona_llm.usage.observability import CallInfo, Hooks, Tracing
from persona_llm.usage.prices import PriceTable, default_prices
from persona_llm.usage.steps import CallSteps, StreamSeen
from persona_llm.usage.tracker import UsageTracker

__all__ = ["ObservedAdapter"]

Vectors = list[list[float]]


class ObservedAdapter(ProviderAdapter, CallSteps):
    """Wraps `inner` with usage tracking, pricing, hooks, logging and tracing.

    Args:
        inner: the adapter that makes the calls.
        tracker: where usage is recorded (a new one when None).
        hooks: request/response/error hooks (none when None).
        prices: the price table (the packaged one when None).
        log_content: include message and reply texts in DEBUG lines (keys still removed).
        tracing: OpenTelemetry spans (used when importable, when None).
        error_log_level: level of the line logged when a call fails; ERROR by default, for
            the wrapper outermost; DEBUG when a retry/fallback layer above it reports.
        clock: seconds as a float, for latency (`time.perf_counter`).
        notes: collect the state features' notes of each call (see the module docstring).
    """

    def __init__(
        self,
        inner: ProviderAdapter,
        tracker: UsageTracker | None = None,
        hooks: Hooks | None = None,
        prices: PriceTable | None = None,
        *,
        log_content: bool = False,
        tracing: Tracing | None = None,
        error_log_level: int = logging.ERROR,
        clock: Callable[[], float] = time.perf_counter,
        notes: bool = False,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.tracker = tracker if tracker is not None else UsageTracker()
        self.hooks = hooks if hooks is not None else Hooks()
        self.prices = prices if prices is not None else default_prices()
        self.log_content = log_content
        self.tracing = tracing if tracing is not None else Tracing()
        self.error_log_level = error_log_level
        self._clock = clock
        self.notes = notes

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]  # a ClassVar on adapters
        """The wrapped adapter's capabilities."""
        return self.inner.capabilities

    def capabilities_for(self, model: str) -> Capabilities:
        """The wrapped adapter's, for `model`."""
        return self.inner.capabilities_for(model)

    def check_request(self, model: str, request: ChatRequest) -> None:
        """The wrapped adapter's check."""
        self.inner.check_request(model, request)

    def __getattr__(self, name: str) -> Any:
        # Anything else (a fake's `calls`, `enqueue`, ...) is the inner adapter's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"ObservedAdapter({self.inner!r})"

    # -- the calls, asyncio: the source of the blocking twins below -------------------

    # unasync: source observed
    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`inner.achat`, observed."""
        call, span, started = self._begin("chat", model, request=request)
        try:
            if span is None:  # no span to make current: one context manager, not two
                with noting_if(call.notes):
                    response = await self.inner.achat(model, request)
            else:
                with self.tracing.current(span), noting_if(call.notes):
                    response = await self.inner.achat(model, request)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        return self._answered(call, span, started, response)

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """`inner.astream`, observed; recorded when the stream ends or is abandoned."""
        call, span, started = self._begin("stream", model, request=request)
        try:
            chunks = self.inner.astream(model, request)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        return self._observe_astream(call, span, started, chunks)

    async def _observe_astream(
        self, call: CallInfo, span: Any, started: float, chunks: AsyncIterator[ChatChunk]
    ) -> AsyncIterator[ChatChunk]:
        seen = StreamSeen()
        try:
            async for chunk in chunks:
                seen.add(chunk)
                yield chunk
        except GeneratorExit:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            self._stream_ended(call, span, started, seen, abandoned=True)
            raise
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        self._stream_ended(call, span, started, seen, abandoned=False)

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> Vectors:
        """`inner.aembeddings`, observed (tokens when the inner adapter reports them)."""
        call, span, started = self._begin("embeddings", model, texts=len(texts))
        try:
            with self.tracing.current(span), noting_if(call.notes):
                vectors = await self.inner.aembeddings(model, texts, options)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        self._embedded(call, span, started, len(vectors), getattr(vectors, "usage", None))
        return vectors

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self.inner.aclose()

    # unasync: end
    # unasync: generated observed (do not edit: scripts/unasync.py writes it)
    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`inner.chat`, observed."""
        call, span, started = self._begin("chat", model, request=request)
        try:
            if span is None:  # no span to make current: one context manager, not two
                with noting_if(call.notes):
                    response = self.inner.chat(model, request)
            else:
                with self.tracing.current(span), noting_if(call.notes):
                    response = self.inner.chat(model, request)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        return self._answered(call, span, started, response)

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """`inner.stream`, observed; recorded when the stream ends or is abandoned."""
        call, span, started = self._begin("stream", model, request=request)
        try:
            chunks = self.inner.stream(model, request)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        return self._observe_stream(call, span, started, chunks)

    def _observe_stream(
        self, call: CallInfo, span: Any, started: float, chunks: Iterator[ChatChunk]
    ) -> Iterator[ChatChunk]:
        seen = StreamSeen()
        try:
            for chunk in chunks:
                seen.add(chunk)
                yield chunk
        except GeneratorExit:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            self._stream_ended(call, span, started, seen, abandoned=True)
            raise
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        self._stream_ended(call, span, started, seen, abandoned=False)

    def embeddings(self, model: str, texts: Sequence[str], options: dict[str, Any]) -> Vectors:
        """`inner.embeddings`, observed (tokens when the inner adapter reports them)."""
        call, span, started = self._begin("embeddings", model, texts=len(texts))
        try:
            with self.tracing.current(span), noting_if(call.notes):
                vectors = self.inner.embeddings(model, texts, options)
        except BaseException as exc:
            self._failed(call, span, started, exc)
            raise
        self._embedded(call, span, started, len(vectors), getattr(vectors, "usage", None))
        return vectors

    def close(self) -> None:
        """Close the inner adapter."""
        self.inner.close()

    # unasync: end
