"""A 2 MB image in a request that fails (a 429, retried, then a 400) never shows its base64:
not in the error, its chain or traceback, the logs (DEBUG, SDK loggers and LLM_LOG_CONTENT
included), the spans, or any repr."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm import ChatMessage, ImagePart, TextPart
from persona_llm.containers import Container
from persona_llm.errors import InvalidRequestError
from persona_llm.testing import media, wire
from persona_llm.testing.emulator import Fault, ProviderEmulator
from persona_llm.usage.observability import Tracing

SERVICES = {
    "openai": "openai/gpt-4o",
    "anthropic": "anthropic/claude-sonnet-4-6",
    "gemini": "gemini/gemini-3.8-flash",
}
# A valid PNG followed by 2 MB of noise-like bytes: its base64 is 2.8 MB of text.
IMAGE = media.png(16, 16) + bytes(range(256)) * (2 * 1024 * 1024 // 256)
B64 = base64.b64encode(IMAGE).decode()
PIECES = [B64[i : i + 64] for i in (0, 1024, len(B64) // 2, len(B64) - 200)]


def error_body(provider: str, status: int) -> Any:
    message = "Rate limit reached" if status == 429 else "Could not process image"
    if provider == "anthropic":
        kind = "rate_limit_error" if status == 429 else "invalid_request_error"
        return wire.anthropic_error(kind, message)
    if provider == "gemini":
        name = "RESOURCE_EXHAUSTED" if status == 429 else "INVALID_ARGUMENT"
        return wire.gemini_error(status, message, name)
    return wire.openai_error(message)


def settings_for(emu: ProviderEmulator, provider: str) -> dict[str, Any]:
    keys = {
        "openai": {"openai_api_key": "sk-test-hygiene1", "openai_base_url": emu.openai_base_url},
        "anthropic": {
            "anthropic_api_key": "sk-ant-test-hygiene1",
            "anthropic_base_url": emu.anthropic_base_url,
        },
        "gemini": {"gemini_api_key": "AIza-test-hygiene1", "gemini_base_url": emu.gemini_base_url},
    }
    return {
        "llm_service": SERVICES[provider],
        "llm_max_retries": 1,
        "llm_retry_initial_wait": 0,
        "llm_retry_max_wait": 0,
        "llm_log_content": True,
        **keys[provider],
    }


def assert_clean(text: str, where: str) -> None:
    for piece in PIECES:
        assert piece not in text, f"base64 of the image found in {where}"


@pytest.mark.parametrize("provider", list(SERVICES))
def test_a_failing_request_with_a_2mb_image_never_shows_its_base64(
    provider: str,
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = memory.InMemorySpanExporter()
    tracer_provider = sdk_trace.TracerProvider()
    tracer_provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    container = container_with(**settings_for(emu, provider))
    container.tracing.override(providers.Object(Tracing(tracer_provider=tracer_provider)))
    emu.enqueue(
        provider, Fault(429, error_body(provider, 429)), Fault(400, error_body(provider, 400))
    )
    message = ChatMessage(
        role="user", content=[TextPart("What is this?"), ImagePart.from_bytes(IMAGE)]
    )
    client = container.chat_client()

    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidRequestError) as caught:
        client.chat([message])

    assert len(emu.requests_for(provider)) == 2  # the 429 was retried, the 400 was not
    assert emu.last_request(provider).parts[1].data == IMAGE  # it did carry the image
    error = caught.value
    assert_clean(str(error) + repr(error), "the error")
    assert_clean("".join(traceback.format_exception(error)), "the traceback and its chain")
    assert_clean(caplog.text, "the logs")
    assert f"image/png {len(IMAGE):,} bytes" in caplog.text  # LLM_LOG_CONTENT shows the label
    for span in exporter.get_finished_spans():
        assert_clean(repr(dict(span.attributes or {})), "a span")
        assert_clean(repr([event.attributes for event in span.events]), "a span event")
    assert_clean(repr(message) + str(message), "the message repr")
