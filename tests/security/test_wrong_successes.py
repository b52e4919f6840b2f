"""Replies that lack what they must have are errors, never an empty success.

Through the real SDKs against the emulator: a 200 with a missing field, an Anthropic stream
that stops without its ``message_delta``, an HTML page in a 200, SSE comment lines from a
proxy, and connection errors that say where and why. Only a reply that *says* it is empty
(``content: ""``, a length or safety stop with no parts) is ``""``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from persona_llm.errors import APIConnectionError, LLMError, ProviderUnavailableError
from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.testing import wire
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, Reply, SSEReply
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))
MODELS = {"openai": "gpt-4o-mini", "azure": "dep", "anthropic": "claude-x", "gemini": "gemini-x"}

MISSING_FIELDS = [
    pytest.param("openai", wire.openai_chat("hi"), "choices.0.message", id="openai-no-message"),
    pytest.param("azure", wire.openai_chat("hi"), "choices.0.message", id="azure-no-message"),
    pytest.param(
        "openai", wire.openai_chat("hi"), "choices.0.message.content", id="openai-no-content"
    ),
    pytest.param(
        "anthropic", wire.anthropic_message("hi"), "content.0.text", id="anthropic-text-block"
    ),
    pytest.param(
        "anthropic",
        wire.anthropic_message([{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]),
        "content.0.name",
        id="anthropic-tool-without-name",
    ),
]


def chat(adapter: ProviderAdapter, provider: str) -> Any:
    """One chat call: the reply, or the error it raised."""
    try:
        return adapter.chat(MODELS[provider], HELLO)
    except Exception as error:  # what escapes is what is under test
        return error


@pytest.mark.parametrize(("provider", "body", "path"), MISSING_FIELDS)
def test_a_200_missing_a_required_field_is_a_provider_error(
    provider: str,
    body: dict[str, Any],
    path: str,
    adapters: dict[str, ProviderAdapter],
    emu: ProviderEmulator,
) -> None:
    emu.enqueue(provider, Reply(wire.without_field(body, path)))
    outcome = chat(adapters[provider], provider)
    assert isinstance(outcome, ProviderUnavailableError), repr(outcome)
    assert outcome.retryable and outcome.provider == provider
    assert "malformed reply" in str(outcome)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("openai", wire.openai_chat("")),
        ("openai", wire.openai_chat(None, finish_reason="content_filter")),
        ("anthropic", wire.anthropic_message("")),
        ("anthropic", wire.anthropic_message([], stop_reason="max_tokens")),
        ("gemini", wire.gemini_response([], finish_reason="SAFETY")),
    ],
)
def test_a_reply_that_says_it_is_empty_is_still_an_empty_success(
    provider: str, body: dict[str, Any], adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Reply(body))
    reply = adapters[provider].chat(MODELS[provider], HELLO)
    assert reply.content == ""


@pytest.mark.parametrize("provider", ["openai", "azure", "anthropic"])
def test_an_html_page_in_a_200_says_so(
    provider: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Reply(wire.html_page(), content_type="text/html"))
    outcome = chat(adapters[provider], provider)
    assert isinstance(outcome, ProviderUnavailableError), repr(outcome)
    assert "HTML page" in str(outcome) and "no choices" not in str(outcome)


# -- Anthropic stream that stops without message_delta ------------------------------------


def test_anthropic_stream_without_message_delta_ended_early(
    adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", wire.without_events(wire.anthropic_events("hi"), "message_delta"))
    with pytest.raises(ProviderUnavailableError, match="stream ended early") as caught:
        list(adapters["anthropic"].stream(MODELS["anthropic"], HELLO))
    assert caught.value.retryable and caught.value.provider == "anthropic"


def test_anthropic_async_stream_without_message_delta_ended_early(
    emu: ProviderEmulator,
) -> None:
    emu.enqueue("anthropic", wire.without_events(wire.anthropic_events("hi"), "message_delta"))

    async def main() -> None:
        adapter = build_adapter(emu.config_for("anthropic"))
        try:
            async for _ in adapter.astream(MODELS["anthropic"], HELLO):
                pass
        finally:
            await adapter.aclose()

    with pytest.raises(ProviderUnavailableError, match="stream ended early"):
        asyncio.run(main())


# -- SSE comment lines ---------------------------------------------------------------------


def stream_with_comments(provider: str) -> SSEReply:
    if provider == "gemini":
        return wire.with_comments(wire.gemini_events(["one", " two"]))
    if provider == "anthropic":
        return wire.with_comments(wire.anthropic_events("one two"))
    return wire.with_comments(wire.openai_chunks(["one", " two"], azure=provider == "azure"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sse_comment_lines_are_ignored(
    provider: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, stream_with_comments(provider))
    chunks = list(adapters[provider].stream(MODELS[provider], HELLO))
    assert "".join(chunk.delta for chunk in chunks) == "one two"
    assert chunks[-1].finish_reason == "stop"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sse_comment_lines_are_ignored_by_asyncio_streams(
    provider: str, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, stream_with_comments(provider))

    async def main() -> list[ChatChunk]:
        adapter = build_adapter(emu.config_for(provider))
        try:
            return [chunk async for chunk in adapter.astream(MODELS[provider], HELLO)]
        finally:
            await adapter.aclose()

    chunks = asyncio.run(main())
    assert "".join(chunk.delta for chunk in chunks) == "one two"


def test_a_comment_split_across_reads_is_still_dropped(
    adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    reply = wire.with_comments(wire.gemini_events(["a", "b"]), ": keep-alive, still thinking")
    emu.enqueue("gemini", SSEReply(reply.events, separator=reply.separator, trickle=0.0005))
    chunks = list(adapters["gemini"].stream(MODELS["gemini"], HELLO))
    assert "".join(chunk.delta for chunk in chunks) == "ab"


# -- connection errors say where and why ---------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_connection_names_host_port_and_cause(provider: str) -> None:
    port = closed_port()
    base = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    config = ProviderConfig(
        name=provider,
        api_key="test-key-0123456789abcdef",
        base_url=base,
        api_version="2024-10-21" if provider == "azure" else None,
        timeout=2.0,
        connect_timeout=1.0,
    )
    adapter = build_adapter(config)
    try:
        with pytest.raises(APIConnectionError) as caught:
            adapter.chat(MODELS[provider], HELLO)
    finally:
        adapter.close()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "Connection refused" in message


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_a_dropped_connection_names_host_and_cause(
    provider: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    from persona_llm.testing.emulator import Fault

    emu.enqueue(provider, Fault(drop_connection=True))
    with pytest.raises(LLMError) as caught:
        adapters[provider].chat(MODELS[provider], HELLO)
    assert isinstance(caught.value, APIConnectionError)
    assert emu.base_url.removeprefix("http://") in str(caught.value)
    assert "Connection error." not in str(caught.value)
