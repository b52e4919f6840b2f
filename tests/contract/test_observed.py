"""Observed adapters over the real SDKs and the emulator: real `Usage` shapes priced right."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from persona_llm.errors import RateLimitError
from persona_llm.providers import build_adapter
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply
from persona_llm.types import ChatMessage, ChatRequest, Usage
from persona_llm.usage.observability import Hooks, ResponseEvent, Tracing
from persona_llm.usage.observed import ObservedAdapter
from persona_llm.usage.prices import load_prices
from persona_llm.usage.tracker import UsageTracker, track_usage

# Anthropic cache writes are priced at the write price once `Usage` reports them separately;
# until then they are inside prompt_tokens and priced as input.
WRITES_REPORTED = "cache_write_tokens" in Usage.model_fields


def ask(text: str = "Hello") -> ChatRequest:
    return ChatRequest(messages=(ChatMessage(role="user", content=text),), max_tokens=100)


@pytest.fixture
def observe(emu: ProviderEmulator) -> Iterator[Any]:
    """Build an observed adapter for a provider of the emulator; closed after the test."""
    built: list[ObservedAdapter] = []

    def make(provider: str, **options: Any) -> ObservedAdapter:
        options.setdefault("tracing", Tracing(enabled=False))
        adapter = ObservedAdapter(
            build_adapter(emu.config_for(provider)), UsageTracker(), **options
        )
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


def only_row(adapter: ObservedAdapter) -> Any:
    (row,) = adapter.tracker.report().rows
    return row


def test_openai_cached_and_reasoning_tokens(emu: ProviderEmulator, observe: Any) -> None:
    emu.enqueue(
        "openai",
        Reply(
            wire.openai_chat(
                "Done.",
                model="gpt-5-2025-08-07",
                prompt_tokens=2_000,
                cached_tokens=1_500,
                completion_tokens=800,
                reasoning_tokens=600,
            )
        ),
    )
    adapter = observe("openai")
    reply = adapter.chat("gpt-5", ask())
    expected = (500 * 1.25 + 1_500 * 0.125 + 800 * 10.0) / 1e6
    row = only_row(adapter)
    assert (row.provider, row.model) == ("openai", "gpt-5")
    assert (row.prompt_tokens, row.cached_tokens, row.reasoning_tokens) == (2_000, 1_500, 600)
    assert row.cost_usd == pytest.approx(expected)
    if "cost_usd" in type(reply).model_fields:
        assert reply.cost_usd == pytest.approx(expected)  # type: ignore[attr-defined]


async def test_anthropic_cache_reads_and_writes(emu: ProviderEmulator, observe: Any) -> None:
    emu.enqueue(
        "anthropic",
        Reply(
            wire.anthropic_message(
                "Sure.",
                model="claude-sonnet-4-6",
                input_tokens=100,
                cache_read_input_tokens=4_000,
                cache_creation_input_tokens=1_000,
                output_tokens=50,
            )
        ),
    )
    adapter = observe("anthropic")
    await adapter.achat("claude-sonnet-4-6", ask())
    await adapter.aclose()
    if WRITES_REPORTED:
        expected = (100 * 3.0 + 4_000 * 0.30 + 1_000 * 3.75 + 50 * 15.0) / 1e6
    else:
        expected = (1_100 * 3.0 + 4_000 * 0.30 + 50 * 15.0) / 1e6
    row = only_row(adapter)
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (5_100, 4_000, 50)
    assert row.cost_usd == pytest.approx(expected)


def test_gemini_thinking_and_cached_tokens(emu: ProviderEmulator, observe: Any) -> None:
    body = wire.gemini_response(
        "Yes.", prompt_tokens=1_000, candidates_tokens=200, thoughts_tokens=300
    )
    body["usageMetadata"]["cachedContentTokenCount"] = 600
    emu.enqueue("gemini", Reply(body))
    adapter = observe("gemini")
    adapter.chat("gemini-2.5-flash", ask())
    row = only_row(adapter)
    assert (row.prompt_tokens, row.cached_tokens) == (1_000, 600)
    assert (row.completion_tokens, row.reasoning_tokens) == (500, 300)
    assert row.cost_usd == pytest.approx((400 * 0.30 + 600 * 0.03 + 500 * 2.50) / 1e6)


def test_azure_is_priced_only_from_user_prices_by_the_reported_model(
    emu: ProviderEmulator, observe: Any
) -> None:
    reply = wire.openai_chat("Hi", model="gpt-4o-mini-2024-07-18", azure=True)
    emu.enqueue("azure", Reply(reply), Reply(reply))
    unpriced = observe("azure")
    unpriced.chat("prod-chat", ask())
    assert only_row(unpriced).unpriced_calls == 1
    prices = load_prices(overrides={"azure": {"gpt-4o-mini": {"input": 1.0, "output": 1.0}}})
    priced = observe("azure", prices=prices)
    priced.chat("prod-chat", ask())
    row = only_row(priced)
    assert (row.model, row.unpriced_calls) == ("prod-chat", 0)
    assert row.cost_usd == pytest.approx(15 / 1e6)


def test_openai_stream_is_recorded_from_its_usage_chunk(
    emu: ProviderEmulator, observe: Any
) -> None:
    usage = wire.openai_usage(12, 3, cached_tokens=0)
    emu.enqueue("openai", wire.openai_chunks(["Once", " upon", " a"], usage=usage))
    hooks = Hooks()
    events: list[ResponseEvent] = []
    hooks.on_response(events.append)
    adapter = observe("openai", hooks=hooks)
    assert "".join(c.delta for c in adapter.stream("gpt-4o-mini", ask())) == "Once upon a"
    (event,) = events
    assert event.usage is not None and event.usage.prompt_tokens == 12
    assert event.cost_usd == pytest.approx((12 * 0.15 + 3 * 0.60) / 1e6)


def test_an_abandoned_sdk_stream_is_closed_and_recorded(
    emu: ProviderEmulator, observe: Any
) -> None:
    emu.enqueue(
        "openai", wire.openai_chunks([f"w{i} " for i in range(20)], usage=wire.openai_usage())
    )
    adapter = observe("openai")
    with track_usage() as scope:
        for chunk in adapter.stream("gpt-4o-mini", ask()):
            if chunk.delta:
                break
    row = only_row(adapter)
    assert (row.calls, row.errors, row.completion_tokens) == (1, 0, 0)
    assert scope.calls == 1
    emu.enqueue("openai", Reply(wire.openai_chat("after")))
    assert adapter.chat("gpt-4o-mini", ask()).content == "after"  # the connection was released


def test_a_provider_error_is_recorded_and_logged_without_the_key(
    emu: ProviderEmulator, observe: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona_llm.usage.observed")
    emu.enqueue(
        "openai",
        Fault(
            429,
            wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded"),
        ),
    )
    adapter = observe("openai")
    with pytest.raises(RateLimitError):
        adapter.chat("gpt-4o-mini", ask())
    row = only_row(adapter)
    assert (row.calls, row.errors) == (1, 1)
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "openai/gpt-4o-mini" in failure.getMessage() and "RateLimitError" in failure.getMessage()
    assert "test-key-for-openai" not in caplog.text


def test_embeddings_record_calls_and_tokens_when_reported(
    emu: ProviderEmulator, observe: Any
) -> None:
    emu.enqueue("openai", Reply(wire.openai_embeddings([[0.1, 0.2], [0.3, 0.4]], prompt_tokens=6)))
    adapter = observe("openai")
    assert len(adapter.embeddings("text-embedding-3-small", ["a", "b"], {})) == 2
    row = only_row(adapter)
    assert row.calls == 1
    assert row.prompt_tokens == 6 and row.cost_usd == pytest.approx(6 * 0.02 / 1e6)


def test_embedding_tokens_are_summed_over_batches_and_survive_retries(
    emu: ProviderEmulator, container_with: Any
) -> None:
    from persona_llm.providers.openai.adapter import OpenAIAdapter

    emu.enqueue("openai", Reply(wire.openai_embeddings([[0.1, 0.2]], prompt_tokens=4)))
    emu.enqueue("openai", Reply(wire.openai_embeddings([[0.3, 0.4]], prompt_tokens=5)))
    own = container_with(
        llm_service="openai/gpt-4o-mini",
        openai_api_key="sk-test-embed-123456",
        openai_base_url=emu.openai_base_url,
        llm_max_retries=2,  # so the retry wrapper sits between the observer and the adapter
    )
    config = own.openai.config()
    own.openai.adapter.override(
        OpenAIAdapter(config, own.openai.sdk(), lambda: None, embedding_batch_size=1)  # type: ignore[arg-type,return-value]
    )
    vectors = own.embedding_client().embeddings(["a", "b"])
    assert vectors.usage is not None and vectors.usage.prompt_tokens == 9  # type: ignore[attr-defined]
    (row,) = own.usage_tracker().report().rows
    assert (row.calls, row.prompt_tokens) == (1, 9)


def test_sdk_call_span_carries_the_reported_model_and_usage(
    emu: ProviderEmulator, observe: Any
) -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    emu.enqueue("openai", Reply(wire.openai_chat("Hi", model="gpt-4o-mini-2024-07-18")))
    adapter = observe("openai", tracing=Tracing(tracer_provider=provider))
    adapter.chat("gpt-4o-mini", ask())
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.system"] == "openai"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert span.attributes["gen_ai.usage.output_tokens"] == 5
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
