"""The steps of one call of `persona_llm.usage.observed.ObservedAdapter` (its module docstring
says what they do): the budget check, request hook and DEBUG line before the call; pricing, the
`UsageRecord`, the span, the response or error hooks and the log line after it.

`CallSteps` holds them for the wrapper, which adds the calls (asyncio source and generated
blocking twin) around them. They log under ``persona_llm.usage.observed``, the wrapper's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from persona_llm.errors import LLMError, redact
from persona_llm.messages import built, filled
from persona_llm.state.notes import CallNotes, annotate, record_fields
from persona_llm.types import ChatChunk, ChatRequest, ChatResponse, Usage
from persona_llm.usage.observability import (
    CallInfo,
    ErrorEvent,
    Hooks,
    ResponseEvent,
    Tracing,
    request_summary,
    response_summary,
)
from persona_llm.usage.prices import PriceTable
from persona_llm.usage.tracker import (
    UsageRecord,
    UsageTracker,
    active_scopes,
    current_label,
    current_task,
)

__all__ = ["CallSteps", "StreamSeen"]

# The wrapper's logger: users and tests filter its lines by this name.
logger = logging.getLogger("persona_llm.usage.observed")


class StreamSeen:
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


class CallSteps:
    """The steps of one observed call, over the attributes `ObservedAdapter` sets."""

    name: str
    tracker: UsageTracker
    hooks: Hooks
    prices: PriceTable
    log_content: bool
    tracing: Tracing
    error_log_level: int
    _clock: Callable[[], float]
    notes: bool

    def _begin(
        self, operation: str, model: str, request: ChatRequest | None = None, texts: int = 0
    ) -> tuple[CallInfo, Any, float]:
        # Every step is skipped when it has nothing to do (no budget, hook, DEBUG log or
        # tracer): this runs on every call, and the benchmarks hold it to a few microseconds.
        tracker = self.tracker
        scopes = active_scopes()  # usually none: then no budget but the tracker's, no task
        if tracker.budget_usd is not None or (scopes and tracker.budgeted()):
            priced = self.prices.lookup(self.name, model) is not None
            try:
                tracker.check_budget(self.name, model, priced=priced)
            except Exception as exc:
                logger.warning("%s %s/%s refused: %s", operation, self.name, model, exc)
                raise
        notes = CallNotes() if self.notes and operation != "stream" else None
        task = current_task() if scopes else None
        call = CallInfo.start(self.name, model, operation, request, texts, task, notes)
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
            call, span, latency, provider, response.usage, cost, response.finish_reason, response
        )
        return response

    def _stream_ended(
        self, call: CallInfo, span: Any, started: float, seen: StreamSeen, *, abandoned: bool
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
        usage: Usage | None,
        cost: float | None,
        finish_reason: str | None = None,
        response: ChatResponse | None = None,
        *,
        vectors: int = 0,
        abandoned: bool = False,
    ) -> None:
        response_model = response.model if response is not None else None
        # A fallback inside `inner` may have answered from another provider: report its model.
        model = call.model if provider == call.provider else (response_model or call.model)
        notes = call.notes
        # every field, in order; a note reads as its record field's default when nothing
        # happened (`record_fields`)
        fields = {
            "provider": provider,
            "model": model,
            "operation": call.operation,
            "latency_s": latency,
            "usage": usage,
            "cost_usd": cost,
            "error": None,
            "task": call.task,
            "response_model": response_model,
            "cache": None if notes is None else notes.cache,
            "waited_s": 0.0 if notes is None else notes.waited_s,
            "limited": None if notes is None else notes.limited,
            "store_errors": 0 if notes is None else notes.store_errors,
            "user": None,
            "tenant": None,
        }
        if active_scopes():
            fields |= _labels()
        self.tracker.record(built(UsageRecord, fields))  # a record per call: no __init__
        if span is not None and notes is not None:
            annotate(span, notes)
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
    if not active_scopes():  # the usual call: no block open, no label to look for
        return {}
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
