"""Hooks, log lines and OpenTelemetry spans for every call.

- `Hooks`: request/response/error callbacks that applications register to send metrics
  anywhere. A hook that raises is logged (WARNING, ``persona_llm.usage.observability``) and
  skipped: a broken metrics hook never breaks a call. Hooks run inline, in the calling
  thread or task; keep them fast.
- Logging (standard `logging`, loggers under ``persona_llm.``): one INFO line when a client
  is created (`log_client_created`), DEBUG summaries of each request and response with the
  provider, model and latency, and the failure of a call (ERROR by default). Message and
  reply texts appear only when content logging is switched on (``LLM_LOG_CONTENT``), and then
  with anything shaped like a key removed; keys never appear.
- `Tracing`: OpenTelemetry spans with the GenAI semantic-convention attributes, when
  ``opentelemetry-api`` is importable. It is imported on the first traced call, never when
  ``persona_llm`` is imported; without a configured SDK the spans are no-ops.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from persona_llm.content import describe_content
from persona_llm.errors import redact
from persona_llm.messages import built
from persona_llm.state.notes import CallNotes
from persona_llm.types import ChatRequest, ChatResponse, Usage

__all__ = [
    "CallInfo",
    "ErrorEvent",
    "Hooks",
    "ResponseEvent",
    "Tracing",
    "log_client_created",
    "request_summary",
    "response_summary",
]

logger = logging.getLogger(__name__)

_call_ids = itertools.count(1)
_OTEL_TRACE = "opentelemetry.trace"
_OTEL_PROVIDER_VARIABLE = "OTEL_PYTHON_TRACER_PROVIDER"  # a provider OpenTelemetry loads itself
_NO_SPAN: AbstractContextManager[None] = nullcontext()  # stateless: one serves every call


@dataclass(frozen=True)
class CallInfo:
    """One call as it starts; it is also the request hooks' argument.

    `operation` is ``chat``, ``stream`` or ``embeddings``; `request` is the chat request
    (None for embeddings, where `texts` is the number of texts). `notes` collects what the
    state features did during the call (None when none is configured).
    """

    provider: str
    model: str
    operation: str
    request: ChatRequest | None = None
    texts: int = 0
    task: str | None = None
    call_id: int = 0
    notes: CallNotes | None = None

    @classmethod
    def start(
        cls,
        provider: str,
        model: str,
        operation: str,
        request: ChatRequest | None = None,
        texts: int = 0,
        task: str | None = None,
        notes: CallNotes | None = None,
    ) -> CallInfo:
        """A `CallInfo` with the next call id of this process (built without the frozen
        ``__init__``: every call makes one)."""
        fields = {
            "provider": provider,
            "model": model,
            "operation": operation,
            "request": request,
            "texts": texts,
            "task": task,
            "call_id": next(_call_ids),
            "notes": notes,
        }
        return built(cls, fields)

    def where(self) -> str:
        """``provider/model`` for log lines."""
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True)
class ResponseEvent:
    """A call that succeeded: the response hooks' argument.

    `response` is the reply of a chat call, or None for a stream (its usage and finish
    reason are here) and for embeddings (`vectors` is their number).
    """

    call: CallInfo
    latency_s: float
    usage: Usage | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    response: ChatResponse | None = None
    response_model: str | None = None
    vectors: int = 0
    abandoned: bool = False


@dataclass(frozen=True)
class ErrorEvent:
    """A call that failed: the error hooks' argument."""

    call: CallInfo
    error: BaseException
    latency_s: float


H = TypeVar("H", bound=Callable[..., Any])


class Hooks:
    """Request, response and error callbacks, registered by the application.

    ``@hooks.on_response`` (or ``hooks.on_response(fn)``) registers `fn`, called with a
    `ResponseEvent` after each successful call; likewise `on_request` (`CallInfo`, before
    the call is sent) and `on_error` (`ErrorEvent`). Registration is thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, tuple[Callable[..., Any], ...]] = {
            "request": (),
            "response": (),
            "error": (),
        }

    def on_request(self, hook: H) -> H:
        """Call `hook(call_info)` before each call is sent."""
        return self._add("request", hook)

    def on_response(self, hook: H) -> H:
        """Call `hook(response_event)` after each successful call."""
        return self._add("response", hook)

    def on_error(self, hook: H) -> H:
        """Call `hook(error_event)` after each failed call."""
        return self._add("error", hook)

    def remove(self, hook: Callable[..., Any]) -> None:
        """Unregister `hook` wherever it was registered."""
        with self._lock:
            for kind, hooks in self._hooks.items():
                self._hooks[kind] = tuple(h for h in hooks if h is not hook)

    def clear(self) -> None:
        """Unregister every hook."""
        with self._lock:
            self._hooks = dict.fromkeys(self._hooks, ())

    def wants(self, kind: str) -> bool:
        """Whether any `kind` hook is registered (so an event is worth building)."""
        return bool(self._hooks[kind])

    def emit(self, kind: str, event: Any) -> None:
        """Call the `kind` hooks with `event`; a hook that raises is logged and skipped."""
        for hook in self._hooks[kind]:
            try:
                hook(event)
            except Exception:
                logger.warning("%s hook %r failed; ignored", kind, hook, exc_info=True)

    def _add(self, kind: str, hook: H) -> H:
        if not callable(hook):
            raise TypeError(f"a {kind} hook must be callable, got {hook!r}")
        with self._lock:
            self._hooks[kind] = (*self._hooks[kind], hook)
        return hook


def log_client_created(kind: str, provider: str, model: str) -> None:
    """The one INFO line of a new client: ``chat client ready: openai/gpt-4o-mini``."""
    logger.info(
        "%s client ready: %s/%s",
        kind,
        provider,
        model,
        extra={"llm_provider": provider, "llm_model": model},
    )


def request_summary(call: CallInfo, *, log_content: bool = False) -> str:
    """What a DEBUG request line says: sizes and options, texts only with `log_content`."""
    request = call.request
    if request is None:
        return f"{call.texts} texts"
    chars = sum(len(m.text) for m in request.messages)
    text = (
        f"{len(request.messages)} messages, {chars} chars, json_mode={request.json_mode}, "
        f"temperature={request.temperature}, max_tokens={request.max_tokens}"
    )
    if log_content:
        # Parts show as labels (<image/png 48,213 bytes>), never their bytes or base64.
        messages = [
            {"role": m.role, "content": describe_content(m.content)} for m in request.messages
        ]
        text += f", messages={redact(repr(messages))}"
    return text


def response_summary(event: ResponseEvent, *, log_content: bool = False) -> str:
    """What a DEBUG response line says: finish reason, tokens and cost."""
    usage = event.usage
    tokens = (
        f"tokens {usage.prompt_tokens}+{usage.completion_tokens} "
        f"(cached {usage.cached_tokens}, reasoning {usage.reasoning_tokens})"
        if usage
        else "tokens unknown"
    )
    cost = f"${event.cost_usd:.6f}" if event.cost_usd is not None else "cost unknown"
    text = f"finish={event.finish_reason}, {tokens}, {cost}"
    if event.call.operation == "embeddings":
        text = f"{event.vectors} vectors, {tokens}, {cost}"
    if event.abandoned:
        text += ", abandoned by the caller"
    if log_content and event.response is not None:
        text += f", content={redact(repr(event.response.content))}"
    return text


_SYSTEMS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
}


def genai_system(provider: str) -> str:
    """The ``gen_ai.system`` value of a provider name (the name itself when none is defined)."""
    return _SYSTEMS.get(provider, provider)


class Tracing:
    """OpenTelemetry spans for calls, when ``opentelemetry-api`` is importable.

    Args:
        enabled: False switches tracing off; True or None use it when importable.
        tracer_provider: the `TracerProvider` to use; None means the global one.
    """

    def __init__(self, enabled: bool | None = None, tracer_provider: Any = None) -> None:
        self.enabled = enabled is not False
        self._tracer_provider = tracer_provider
        self._tracer: Any = None
        self._trace: Any = None  # the opentelemetry.trace module, once imported
        self._provider_from_environment = _OTEL_PROVIDER_VARIABLE in os.environ
        self._lock = threading.Lock()

    def _get_tracer(self) -> Any:
        if not self.enabled:
            return None
        if self._tracer is None:
            with self._lock:
                if self._tracer is None:
                    try:
                        trace = importlib.import_module(_OTEL_TRACE)
                    except ImportError:
                        self.enabled = False
                        return None
                    self._trace = trace
                    self._tracer = trace.get_tracer(
                        "persona_llm", tracer_provider=self._tracer_provider
                    )
        return self._tracer

    def start(self, call: CallInfo) -> Any:
        """A started span for `call` (not made current), or None without tracing."""
        if (
            self._tracer_provider is None
            and _OTEL_TRACE not in sys.modules
            and not self._provider_from_environment
        ):
            # Nothing in the process has imported OpenTelemetry, so no SDK is configured:
            # skip importing it (3 ms of the first call). Checked per call, like the below.
            return None
        tracer = self._get_tracer()
        if tracer is None:
            return None
        trace = self._trace
        if (
            self._tracer_provider is None
            and not self._provider_from_environment
            and getattr(trace, "_TRACER_PROVIDER", trace) is None
        ):
            # No provider set (what `get_tracer_provider()` checks first, before it looks
            # up the environment variable in `os.environ`: five calls and a KeyError).
            return None
        if self._tracer_provider is None and isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider
        ):
            # No SDK configured (opentelemetry-api arrives with the anthropic SDK): the span
            # would record nothing, so skip building it. Checked per call: an app may set
            # its provider after the first call.
            return None
        operation = "chat" if call.operation == "stream" else call.operation
        return tracer.start_span(
            f"{operation} {call.model}",
            kind=trace.SpanKind.CLIENT,
            attributes=_request_attributes(call, operation),
        )

    def current(self, span: Any) -> AbstractContextManager[Any]:
        """Make `span` the current span for the block (so SDK HTTP spans nest under it)."""
        if span is None:
            return _NO_SPAN
        # The exception is reported by `fail` (type only): its text could hold request data.
        use: AbstractContextManager[Any] = self._trace.use_span(
            span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )
        return use

    @staticmethod
    def finish(span: Any, event: ResponseEvent) -> None:
        """Add the response attributes to `span` and end it."""
        if span is None:
            return
        attributes: dict[str, Any] = {"persona_llm.abandoned": event.abandoned}
        if event.response_model:
            attributes["gen_ai.response.model"] = event.response_model
        if event.usage is not None:
            attributes["gen_ai.usage.input_tokens"] = event.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = event.usage.completion_tokens
        if event.finish_reason:
            attributes["gen_ai.response.finish_reasons"] = (event.finish_reason,)
        if event.cost_usd is not None:
            attributes["persona_llm.cost_usd"] = event.cost_usd
        span.set_attributes(attributes)
        span.end()

    @staticmethod
    def fail(span: Any, error: BaseException) -> None:
        """Mark `span` as failed with the error's type and end it."""
        if span is None:
            return
        trace = importlib.import_module("opentelemetry.trace")  # imported by then: cheap
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        span.end()


def _request_attributes(call: CallInfo, operation: str) -> dict[str, Any]:
    system = genai_system(call.provider)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.system": system,
        "gen_ai.provider.name": system,
        "gen_ai.request.model": call.model,
    }
    request = call.request
    if request is not None:
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = request.temperature
        if request.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = request.max_tokens
        if request.stop:
            attributes["gen_ai.request.stop_sequences"] = request.stop
    if call.task:
        attributes["persona_llm.task"] = call.task
    return attributes
