"""Log records, hooks and OpenTelemetry spans of observed calls (over the fake provider)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from persona_llm.errors import AuthenticationError
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatMessage, ChatRequest, ChatResponse, Usage
from persona_llm.usage.observability import (
    CallInfo,
    ErrorEvent,
    Hooks,
    ResponseEvent,
    Tracing,
    log_client_created,
)
from persona_llm.usage.observed import ObservedAdapter
from persona_llm.usage.prices import PriceTable
from persona_llm.usage.tracker import UsageRecord, UsageTracker, track_usage

PRICES = PriceTable.from_dict({"fake": {"*": {"input": 1.0, "output": 2.0}}})
SECRET_TEXT = "the merger closes on friday"
KEY = "sk-proj-abcdefghijklmnop1234"


def ask(text: str = SECRET_TEXT) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage(role="user", content=text),), max_tokens=50)


def observed(fake: FakeProvider | None = None, **options: Any) -> ObservedAdapter:
    options.setdefault("tracing", Tracing(enabled=False))
    return ObservedAdapter(fake or FakeProvider(), UsageTracker(), prices=PRICES, **options)


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("persona_llm")]


# -- logging ------------------------------------------------------------------------------


def test_debug_lines_summarize_request_and_response_without_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    observed().chat("m1", ask())
    request, response = records(caplog)
    assert (request.levelno, response.levelno) == (logging.DEBUG, logging.DEBUG)
    assert "chat request fake/m1" in request.getMessage()
    assert "1 messages" in request.getMessage() and "max_tokens=50" in request.getMessage()
    assert "chat response fake/m1 in " in response.getMessage()
    assert "finish=stop" in response.getMessage() and "$0.000015" in response.getMessage()
    for record in (request, response):
        assert record.llm_provider == "fake" and record.llm_model == "m1"  # type: ignore[attr-defined]
        assert SECRET_TEXT not in record.getMessage()
    assert response.llm_latency_s >= 0  # type: ignore[attr-defined]


def test_content_is_logged_only_when_opted_in_and_keys_never(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    observed(log_content=True).chat("m1", ask(f"{SECRET_TEXT} with {KEY}"))
    text = "\n".join(r.getMessage() for r in records(caplog))
    assert SECRET_TEXT in text  # the request and the echoed reply
    assert KEY not in text and "[REDACTED]" in text


def test_a_failed_call_is_one_error_line_with_context_and_no_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    error = AuthenticationError(f"Incorrect API key provided: {KEY}", provider="fake", model="m1")
    adapter = observed(FakeProvider([error]))
    with pytest.raises(AuthenticationError):
        adapter.chat("m1", ask())
    failures = [r for r in records(caplog) if r.levelno >= logging.WARNING]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR
    message = failures[0].getMessage()
    assert "chat failed fake/m1 after " in message and "AuthenticationError" in message
    assert KEY not in message and SECRET_TEXT not in message
    assert failures[0].llm_latency_s >= 0  # type: ignore[attr-defined]


def test_the_failure_level_is_configurable_for_a_wrapper_under_a_retry_layer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    adapter = observed(FakeProvider([RuntimeError(f"boom {KEY}")]), error_log_level=logging.DEBUG)
    with pytest.raises(RuntimeError):
        adapter.chat("m1", ask())
    failure = records(caplog)[-1]
    assert failure.levelno == logging.DEBUG and "RuntimeError" in failure.getMessage()
    assert KEY not in failure.getMessage()  # a non-library error is scrubbed too


def test_a_refused_call_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    with track_usage(budget_usd=0), contextlib.suppress(Exception):
        observed().chat("m1", ask())
    (warning,) = records(caplog)
    assert warning.levelno == logging.WARNING and "fake/m1 refused" in warning.getMessage()


def test_client_creation_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm")
    log_client_created("chat", "openai", "gpt-4o-mini")
    (record,) = records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == "chat client ready: openai/gpt-4o-mini"


def test_nothing_is_logged_above_debug_for_a_successful_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="persona_llm")
    observed().chat("m1", ask())
    assert records(caplog) == []


# -- hooks --------------------------------------------------------------------------------


def test_hooks_see_request_response_and_error() -> None:
    hooks = Hooks()
    events: list[Any] = []

    def collect(event: Any) -> None:
        events.append(event)

    for register in (hooks.on_request, hooks.on_response, hooks.on_error):
        assert register(collect) is collect
    fake = FakeProvider(["three word reply", AuthenticationError("no", provider="fake")])
    adapter = ObservedAdapter(fake, hooks=hooks, prices=PRICES, tracing=Tracing(enabled=False))
    with track_usage(task="summarize"):
        adapter.chat("m1", ask("a b"))
    with pytest.raises(AuthenticationError):
        adapter.chat("m1", ask())
    started, answered, started_again, failed = events
    assert isinstance(started, CallInfo) and started.task == "summarize"
    assert (started.provider, started.model, started.operation) == ("fake", "m1", "chat")
    assert started.request is not None and started.request.messages[0].content == "a b"
    assert isinstance(answered, ResponseEvent) and answered.call is started
    assert answered.usage == Usage(prompt_tokens=2, completion_tokens=3)
    assert answered.cost_usd == pytest.approx((2 + 6) / 1e6)
    assert answered.response is not None and answered.response.content == "three word reply"
    assert answered.latency_s >= 0 and answered.finish_reason == "stop"
    assert isinstance(started_again, CallInfo) and started_again.call_id > started.call_id
    assert isinstance(failed, ErrorEvent) and isinstance(failed.error, AuthenticationError)


def test_a_failing_hook_is_logged_and_does_not_break_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = Hooks()

    @hooks.on_response
    def broken(event: ResponseEvent) -> None:
        raise ValueError("metrics backend down")

    adapter = ObservedAdapter(FakeProvider(), hooks=hooks, prices=PRICES)
    assert adapter.chat("m1", ask("hi")).content == "hi"
    (warning,) = [r for r in records(caplog) if r.levelno == logging.WARNING]
    assert "response hook" in warning.getMessage()
    hooks.remove(broken)
    adapter.chat("m1", ask("hi"))
    assert len([r for r in records(caplog) if r.levelno == logging.WARNING]) == 1


def test_hooks_can_be_cleared_and_must_be_callable() -> None:
    hooks = Hooks()
    seen: list[Any] = []
    hooks.on_request(seen.append)
    hooks.clear()
    ObservedAdapter(FakeProvider(), hooks=hooks, prices=PRICES).chat("m1", ask())
    assert seen == []
    with pytest.raises(TypeError):
        hooks.on_error("not a function")  # type: ignore[arg-type]


def test_stream_is_recorded_at_its_end_from_the_last_chunk() -> None:
    hooks = Hooks()
    events: list[ResponseEvent] = []
    hooks.on_response(events.append)
    adapter = ObservedAdapter(FakeProvider(["one two three"]), hooks=hooks, prices=PRICES)
    stream = adapter.stream("m1", ask("a"))
    assert events == [] and adapter.tracker.report().total.calls == 0
    assert "".join(c.delta for c in stream) == "one two three"
    (event,) = events
    assert event.usage == Usage(prompt_tokens=1, completion_tokens=3)
    assert event.finish_reason == "stop" and not event.abandoned
    assert adapter.tracker.report().total.completion_tokens == 3


def test_an_abandoned_stream_records_what_it_saw() -> None:
    hooks = Hooks()
    events: list[ResponseEvent] = []
    hooks.on_response(events.append)
    adapter = ObservedAdapter(FakeProvider(["one two three"]), hooks=hooks, prices=PRICES)
    stream = adapter.stream("m1", ask())
    assert next(stream).delta == "one"
    stream.close()  # what `break` out of a for loop does once the generator is dropped
    (event,) = events
    assert event.abandoned and event.usage is None
    row = adapter.tracker.report().total
    assert (row.calls, row.errors, row.unpriced_calls) == (1, 0, 1)


async def test_async_stream_is_recorded_at_its_end_and_when_closed() -> None:
    tracker = UsageTracker()
    adapter = ObservedAdapter(FakeProvider(["x y", "p q r"]), tracker, prices=PRICES)
    assert [c.delta async for c in adapter.astream("m1", ask("a"))] == ["x", " y", ""]
    async with contextlib.aclosing(adapter.astream("m1", ask("a"))) as chunks:  # type: ignore[type-var]
        async for _ in chunks:
            break
    total = tracker.report().total
    assert total.calls == 2 and total.completion_tokens == 2  # the second saw no usage


async def test_async_calls_and_embeddings_are_observed() -> None:
    adapter = observed()
    reply = await adapter.achat("m1", ask("hello"))
    vectors = await adapter.aembeddings("m1", ["a", "b"], {})
    assert reply.content == "hello" and len(vectors) == 2
    report = adapter.tracker.report().total
    assert report.calls == 2 and report.unpriced_calls == 0
    assert report.prompt_tokens == 1 + 2  # "hello", then one word per embedded text


def test_embedding_tokens_and_cost_are_recorded_when_the_adapter_reports_them() -> None:
    adapter = observed(FakeProvider())  # Embeddings.usage: one token per word
    assert len(adapter.embeddings("m1", ["a", "b", "c"], {})) == 3
    total = adapter.tracker.report().total
    assert (total.prompt_tokens, total.unpriced_calls) == (3, 0)
    assert total.cost_usd == pytest.approx(3e-6)


class TaggedResponse(ChatResponse):
    """A `ChatResponse` subclass, as an application's adapter might return."""

    tag: str = "mine"


def test_the_cost_goes_on_a_copy_equal_to_model_copy() -> None:
    scripted = TaggedResponse(
        content="ok",
        model="m1",
        provider="fake",
        usage=Usage(prompt_tokens=10, completion_tokens=5),
        raw={"id": 1},
    )
    reply = observed(FakeProvider([scripted])).chat("m1", ask())
    assert isinstance(reply, TaggedResponse) and reply.tag == "mine"
    assert reply.cost_usd == pytest.approx(20e-6)
    assert scripted.cost_usd is None  # the fake's object is not changed in place
    expected = scripted.model_copy(update={"cost_usd": reply.cost_usd})
    assert reply == expected and reply.raw == {"id": 1}
    assert reply.model_fields_set == expected.model_fields_set
    assert reply.model_dump() == expected.model_dump()
    reply.content = "edited"  # a mutable copy of its own
    assert scripted.content == "ok"


class _Keeping(UsageTracker):
    """A tracker that also keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[UsageRecord] = []

    def record(self, record: UsageRecord) -> None:
        self.kept.append(record)
        super().record(record)


@pytest.mark.parametrize("labelled", [False, True])
def test_records_and_call_infos_are_what_their_constructors_build(labelled: bool) -> None:
    # Both are built without their frozen __init__ on every call (messages.built).
    tracker, seen = _Keeping(), []
    hooks = Hooks()
    hooks.on_request(seen.append)
    adapter = ObservedAdapter(
        FakeProvider(["ok"]), tracker, hooks, PRICES, tracing=Tracing(enabled=False), notes=True
    )
    with track_usage(task="t", user="u") if labelled else contextlib.nullcontext():
        reply = adapter.chat("m1", ask())
    (record,), (call,) = tracker.kept, seen
    expected = UsageRecord(
        provider="fake",
        model="m1",
        operation="chat",
        latency_s=record.latency_s,
        usage=record.usage,
        cost_usd=record.cost_usd,
        task="t" if labelled else None,
        response_model="m1",
        user="u" if labelled else None,
    )
    assert record == expected and repr(record) == repr(expected)
    assert hash(record) == hash(expected) and vars(record) == vars(expected)
    assert record.usage == reply.usage and record.cost_usd == reply.cost_usd > 0
    assert list(vars(record)) == [f.name for f in dataclasses.fields(UsageRecord)]
    fields = [f.name for f in dataclasses.fields(CallInfo)]
    again = CallInfo(**{name: getattr(call, name) for name in fields})
    assert call == again and repr(call) == repr(again) and vars(call) == vars(again)
    assert call.task == ("t" if labelled else None) and call.notes is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.cost_usd = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.model = "other"  # type: ignore[misc]


def test_an_unpriced_reply_is_passed_through_unchanged() -> None:
    scripted = ChatResponse(content="ok", model="unknown-model", provider="fake")
    reply = observed(FakeProvider([scripted])).chat("unknown-model", ask())
    assert reply is scripted and reply.cost_usd is None


# -- OpenTelemetry ------------------------------------------------------------------------


@pytest.fixture
def spans() -> Any:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return provider, exporter


def test_chat_span_has_the_genai_attributes(spans: Any) -> None:
    provider, exporter = spans
    adapter = observed(
        FakeProvider(["four words of reply"]), tracing=Tracing(tracer_provider=provider)
    )
    adapter.chat(
        "m1", ChatRequest(messages=(ChatMessage(role="user", content="a b"),), temperature=0.2)
    )
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat m1"
    assert span.kind.name == "CLIENT"
    attributes = dict(span.attributes)
    assert attributes["gen_ai.system"] == "fake"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "m1"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.response.model"] == "m1"
    assert attributes["gen_ai.usage.input_tokens"] == 2
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["persona_llm.cost_usd"] == pytest.approx(10e-6)
    assert SECRET_TEXT not in str(attributes)


def test_failed_call_span_is_an_error_span(spans: Any) -> None:
    provider, exporter = spans
    fake = FakeProvider([AuthenticationError(f"bad key {KEY}", provider="fake")])
    adapter = observed(fake, tracing=Tracing(tracer_provider=provider))
    with pytest.raises(AuthenticationError):
        adapter.chat("m1", ask())
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "AuthenticationError"
    assert KEY not in str(span.status.description) and not span.events


async def test_stream_and_embedding_spans(spans: Any) -> None:
    provider, exporter = spans
    adapter = observed(tracing=Tracing(tracer_provider=provider))
    list(adapter.stream("m1", ask("a b c")))
    await adapter.aembeddings("e1", ["x"], {})
    stream_span, embed_span = exporter.get_finished_spans()
    assert (
        stream_span.name == "chat m1" and stream_span.attributes["gen_ai.usage.output_tokens"] == 3
    )
    assert embed_span.name == "embeddings e1"
    assert embed_span.attributes["gen_ai.operation.name"] == "embeddings"


def test_provider_names_map_to_semantic_convention_systems(spans: Any) -> None:
    provider, exporter = spans
    for name, system in [("gemini", "gcp.gemini"), ("azure", "azure.ai.openai")]:
        fake = FakeProvider()
        fake.name = name
        observed(fake, tracing=Tracing(tracer_provider=provider)).chat("m", ask())
        assert exporter.get_finished_spans()[-1].attributes["gen_ai.system"] == system


def test_tracing_can_be_switched_off(spans: Any) -> None:
    provider, exporter = spans
    observed(tracing=Tracing(enabled=False, tracer_provider=provider)).chat("m1", ask())
    assert exporter.get_finished_spans() == ()


def test_importing_and_building_the_wrapper_loads_no_opentelemetry() -> None:
    code = (
        "import sys\n"
        "import persona_llm, persona_llm.usage.observed, persona_llm.usage.tracker\n"
        "import persona_llm.usage.prices\n"
        "from persona_llm.providers.fake import FakeProvider\n"
        "persona_llm.usage.observed.ObservedAdapter(FakeProvider())\n"
        "print([m for m in sys.modules if m.startswith('opentelemetry')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_hook_runs_in_the_calling_task() -> None:
    hooks = Hooks()
    seen: list[str | None] = []
    hooks.on_request(lambda call: seen.append(call.task))
    adapter = ObservedAdapter(FakeProvider(), hooks=hooks, prices=PRICES)

    async def job(label: str) -> None:
        with track_usage(task=label):
            await adapter.achat("m1", ask())

    async def main() -> None:
        await asyncio.gather(job("a"), job("b"))

    asyncio.run(main())
    assert sorted(seen) == ["a", "b"]  # type: ignore[type-var]


def test_a_global_provider_set_after_the_first_call_gets_the_next_spans() -> None:
    # Before the application imports OpenTelemetry no span is built (nor is it imported);
    # once it installs an SDK provider, the next call is traced. Fresh process: the global
    # provider can be set only once.
    pytest.importorskip("opentelemetry.sdk.trace")
    code = """
import sys
from persona_llm.usage.observability import CallInfo, Tracing
tracing = Tracing()
call = CallInfo.start("openai", "m1", "chat")
assert tracing.start(call) is None and "opentelemetry.trace" not in sys.modules
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
span = tracing.start(call)
span.end()
print([s.name for s in exporter.get_finished_spans()])
"""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['chat m1']"
