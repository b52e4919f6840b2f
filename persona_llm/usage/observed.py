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
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from persona_llm.errors import LLMError, redact
from persona_llm.messages import filled
from persona_llm.providers.base import ProviderAdapter
from persona_llm.state.notes import CallNotes, annotate, noting_if, record_fields
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage
from persona_llm.usage.observability import (
    CallInfo,
    ErrorEvent,
    Hooks,
    ResponseEvent,
    Tracing,
    request_summary,
    response_summary,
)
from persona_llm.usage.prices import PriceTable, default_prices
from persona_llm.usage.tracker import UsageRecord, UsageTracker, current_label, current_task

__all__ = ["ObservedAdapter"]

logger = logging.getLogger(__name__)

Vectors = list[list[float]]


class _StreamSeen:
    """What a stream has shown so far: the last usage and finish reason, the chunk count."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.chunks = 0

    def add(self, chunk: ChatChunk) -> None:
        self.chunks += 1
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason


class ObservedAdapter(ProviderAdapter):
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
        seen = _StreamSeen()
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
        seen = _StreamSeen()
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

    # -- the steps of one call ----------------------------------------------------------

    def _begin(
        self, operation: str, model: str, request: ChatRequest | None = None, texts: int = 0
    ) -> tuple[CallInfo, Any, float]:
        # Every step is skipped when it has nothing to do (no budget, hook, DEBUG log or
        # tracer): this runs on every call, and the benchmarks hold it to a few microseconds.
        tracker = self.tracker
        if tracker.budgeted():
            priced = self.prices.lookup(self.name, model) is not None
            try:
                tracker.check_budget(self.name, model, priced=priced)
            except Exception as exc:
                logger.warning("%s %s/%s refused: %s", operation, self.name, model, exc)
                raise
        notes = CallNotes() if self.notes and operation != "stream" else None
        call = CallInfo.start(self.name, model, operation, request, texts, current_task(), notes)
        self.hooks.emit("request", call)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s request %s: %s [call %d]",
                operation,
                call.where(),
                request_summary(call, log_content=self.log_content),
                call.call_id,
                extra=_extra(call),
            )
        span = self.tracing.start(call)
        return call, span, self._clock()

    def _answered(
        self, call: CallInfo, span: Any, started: float, response: ChatResponse
    ) -> ChatResponse:
        latency = self._clock() - started
        provider = response.provider or call.provider
        if response.cached:  # the cache answered: nothing was billed
            cost: float | None = 0.0
        else:
            cost = self.prices.cost(provider, (response.model, call.model), response.usage, None)
        if cost is not None and cost != response.cost_usd:
            response = _with_cost(response, cost)
        self._succeeded(
            call,
            span,
            latency,
            provider,
            usage=response.usage,
            cost=cost,
            finish_reason=response.finish_reason,
            response=response,
        )
        return response

    def _stream_ended(
        self, call: CallInfo, span: Any, started: float, seen: _StreamSeen, *, abandoned: bool
    ) -> None:
        latency = self._clock() - started
        cost = self.prices.cost(call.provider, (call.model,), seen.usage, None)
        self._succeeded(
            call,
            span,
            latency,
            call.provider,
            usage=seen.usage,
            cost=cost,
            finish_reason=seen.finish_reason,
            abandoned=abandoned,
        )

    def _embedded(
        self, call: CallInfo, span: Any, started: float, count: int, usage: Usage | None
    ) -> None:
        latency = self._clock() - started
        cost = self.prices.cost(call.provider, (call.model,), usage, None)
        if cost is None and usage is None and call.notes and call.notes.cache == "hit":
            cost = 0.0  # every vector came from the cache
        self._succeeded(call, span, latency, call.provider, usage=usage, cost=cost, vectors=count)

    def _succeeded(
        self,
        call: CallInfo,
        span: Any,
        latency: float,
        provider: str,
        *,
        usage: Usage | None,
        cost: float | None,
        finish_reason: str | None = None,
        response: ChatResponse | None = None,
        vectors: int = 0,
        abandoned: bool = False,
    ) -> None:
        response_model = response.model if response is not None else None
        # A fallback inside `inner` may have answered from another provider: report its model.
        model = call.model if provider == call.provider else (response_model or call.model)
        self.tracker.record(
            UsageRecord(
                provider=provider,
                model=model,
                operation=call.operation,
                latency_s=latency,
                usage=usage,
                cost_usd=cost,
                task=call.task,
                response_model=response_model,
                **record_fields(call.notes),
                **_labels(),
            )
        )
        if span is not None and call.notes is not None:
            annotate(span, call.notes)
        debug = logger.isEnabledFor(logging.DEBUG)
        if span is None and not debug and not self.hooks.wants("response"):
            return  # nobody would read the event
        event = ResponseEvent(
            call,
            latency,
            usage=usage,
            cost_usd=cost,
            finish_reason=finish_reason,
            response=response,
            response_model=response_model,
            vectors=vectors,
            abandoned=abandoned,
        )
        if debug:
            logger.debug(
                "%s response %s in %.3fs: %s [call %d]",
                call.operation,
                call.where(),
                latency,
                response_summary(event, log_content=self.log_content),
                call.call_id,
                extra=_extra(call, latency),
            )
        self.tracing.finish(span, event)
        self.hooks.emit("response", event)

    def _failed(self, call: CallInfo, span: Any, started: float, error: BaseException) -> None:
        latency = self._clock() - started
        self.tracker.record(
            UsageRecord(
                provider=call.provider,
                model=call.model,
                operation=call.operation,
                latency_s=latency,
                error=type(error).__name__,
                task=call.task,
                **record_fields(call.notes),
                **_labels(),
            )
        )
        if span is not None and call.notes is not None:
            annotate(span, call.notes)
        # Cancellation and interrupts are the caller's doing, not a provider failure.
        level = self.error_log_level if isinstance(error, Exception) else logging.DEBUG
        logger.log(
            level,
            "%s failed %s after %.3fs: %s: %s [call %d]",
            call.operation,
            call.where(),
            latency,
            type(error).__name__,
            _describe(error),
            call.call_id,
            extra=_extra(call, latency),
        )
        self.tracing.fail(span, error)
        self.hooks.emit("error", ErrorEvent(call, error, latency))


def _labels() -> dict[str, Any]:
    """The ``user`` / ``tenant`` labels of the open ``track_usage()`` blocks, if any."""
    user, tenant = current_label("user"), current_label("tenant")
    return {"user": user, "tenant": tenant} if user or tenant else {}


def _with_cost(response: ChatResponse, cost: float) -> ChatResponse:
    """A copy of `response` with its cost: what `model_copy(update=...)` builds, in a
    third of its time (it runs on every call).

    The inner adapter's response is not changed in place: a fake or a test double may hand
    out the same object twice. tests/unit/test_observability.py checks the copy.
    """
    fields = response.__dict__ | {"cost_usd": cost}
    return filled(type(response), fields, {*response.model_fields_set, "cost_usd"}, response)


def _extra(call: CallInfo, latency: float | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "llm_provider": call.provider,
        "llm_model": call.model,
        "llm_operation": call.operation,
        "llm_call_id": call.call_id,
    }
    if latency is not None:
        extra["llm_latency_s"] = latency
    return extra


def _describe(error: BaseException) -> str:
    # LLMError messages are already redacted; anything else is scrubbed here.
    return str(error) if isinstance(error, LLMError) else redact(str(error))
