"""The state features on the usage report, the text table and the OpenTelemetry spans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.containers import Container
from persona_llm.errors import RateLimitError
from persona_llm.usage.observability import Tracing
from persona_llm.usage.table import usage_table


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def spans() -> Any:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return provider, exporter


def test_spans_show_cache_hits_waits_and_local_refusals(
    container_with: Callable[..., Container], spans: Any
) -> None:
    provider, exporter = spans
    container = container_with(
        llm_service="fake/echo",
        llm_cache="memory",
        llm_rate_limits="fake/*=2rpm",
        llm_rate_window=0.3,
        llm_timeout=0.1,
    )
    container.tracing.override(providers.Object(Tracing(tracer_provider=provider)))
    client = container.chat_client()
    client.chat(user("a"))
    client.chat(user("a"))  # a hit: no room taken
    client.chat(user("b"))
    with pytest.raises(RateLimitError):
        client.chat(user("c"))
    first, hit, _, refused = (dict(s.attributes) for s in exporter.get_finished_spans())
    assert first["persona_llm.cache"] == "miss" and hit["persona_llm.cache"] == "hit"
    assert hit["persona_llm.cost_usd"] == 0
    assert refused["persona_llm.rate_limit.refused"] == "fake/*=2rpm"
    table = usage_table(container.usage_tracker().report())
    assert "cache 1 hit(s), 3 miss(es)" in table
    assert "1 call(s) refused by LLM_RATE_LIMITS" in table


def test_without_state_features_records_carry_nothing_new(
    container_with: Callable[..., Container],
) -> None:
    container = container_with(llm_service="fake/echo")
    container.chat_client().chat(user("a"))
    total = container.usage_tracker().report().total
    assert (total.cache_hits, total.cache_misses, total.limiter_waits, total.store_errors) == (
        0,
        0,
        0,
        0,
    )
    assert container.observed_chat_adapter().notes is False
    assert container.chat_adapter() is container.fake.adapter()  # nothing wrapped around it
