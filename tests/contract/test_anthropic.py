"""The Anthropic adapter through the real ``anthropic`` SDK over HTTP to the provider emulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import pytest

from persona_llm.containers import Container
from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.providers import build_adapter
from persona_llm.providers.anthropic.adapter import AnthropicAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply, SSEReply
from persona_llm.types import ChatMessage, ChatRequest, Usage

KEY = "sk-ant-api03-test-abcdef1234567890"
MODEL = "claude-sonnet-4-6"


def make_adapter(emu: ProviderEmulator, timeout: float = 5.0) -> AnthropicAdapter:
    config = ProviderConfig(
        name="anthropic",
        api_key=KEY,
        base_url=emu.anthropic_base_url,
        timeout=timeout,
        connect_timeout=2,
    )
    return cast(AnthropicAdapter, build_adapter(config))


@pytest.fixture
def adapter(emu: ProviderEmulator) -> Iterator[AnthropicAdapter]:
    built = make_adapter(emu)
    yield built
    built._client.close()


@pytest.fixture
async def aadapter(emu: ProviderEmulator) -> AsyncIterator[AnthropicAdapter]:
    built = make_adapter(emu)
    yield built
    await built.aclose()
    built._client.close()


def ask(*messages: tuple[str, str], **fields: Any) -> ChatRequest:
    return ChatRequest(
        messages=tuple(ChatMessage(role=r, content=c) for r, c in messages),  # type: ignore[arg-type]
        **fields,
    )


HELLO = ask(("user", "Hello there"))
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


# -- chat -----------------------------------------------------------------------------------


def test_plain_text(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    reply = adapter.chat(MODEL, HELLO)
    assert reply.content == "echo: Hello there"
    assert (reply.provider, reply.model, reply.finish_reason) == ("anthropic", MODEL, "stop")
    sent = emu.last_request("anthropic")
    assert sent.path == "/v1/messages"
    assert sent.json["model"] == MODEL
    assert sent.json["max_tokens"] == 8192
    assert "temperature" not in sent.json


async def test_plain_text_async(aadapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    reply = await aadapter.achat(MODEL, HELLO)
    assert reply.content == "echo: Hello there"
    assert reply.finish_reason == "stop"
    assert emu.last_request("anthropic").json["messages"] == [
        {"role": "user", "content": "Hello there"}
    ]


def test_async_clients_work_across_event_loops(adapter: AnthropicAdapter) -> None:
    for text in ("one", "two"):
        reply = asyncio.run(adapter.achat(MODEL, ask(("user", text))))
        assert reply.content == f"echo: {text}"
    adapter.close()


def test_system_prompts_go_to_the_top_level_system_field(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(
        MODEL,
        ask(("system", "Be brief."), ("user", "Hi"), ("system", "Answer in French.")),
    )
    body = emu.last_request("anthropic").json
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert all(m["role"] in ("user", "assistant") for m in body["messages"])


def test_multi_turn_roles_alternate(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    reply = adapter.chat(
        MODEL,
        ask(
            ("user", "My name is Ada."),
            ("assistant", "Hello Ada."),
            ("user", "What is my name?"),
            ("user", "Answer briefly."),
        ),
    )
    assert emu.last_request("anthropic").json["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?\n\nAnswer briefly."},
    ]
    assert reply.content == "echo: What is my name?\n\nAnswer briefly."


def test_options_temperature_and_stop_reach_the_api(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(
        MODEL,
        ask(
            ("user", "x"),
            temperature=0.2,
            stop=("END",),
            max_tokens=50,
            options={"metadata": {"user_id": "u-1"}, "top_k": 5},
        ),
    )
    body = emu.last_request("anthropic").json
    assert body["temperature"] == 0.2
    assert body["stop_sequences"] == ["END"]
    assert body["max_tokens"] == 50
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["top_k"] == 5


def test_max_tokens_finish_is_length(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", Reply(wire.anthropic_message("Once upon a", stop_reason="max_tokens")))
    reply = adapter.chat(MODEL, ask(("user", "Tell a story"), max_tokens=3))
    assert (reply.content, reply.finish_reason) == ("Once upon a", "length")
    assert emu.last_request("anthropic").json["max_tokens"] == 3


async def test_max_tokens_finish_is_length_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", Reply(wire.anthropic_message("Once", stop_reason="max_tokens")))
    reply = await aadapter.achat(MODEL, ask(("user", "Tell a story"), max_tokens=1))
    assert reply.finish_reason == "length"


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ],
)
def test_finish_reason_normalization(
    adapter: AnthropicAdapter, emu: ProviderEmulator, stop_reason: str, expected: str
) -> None:
    emu.enqueue("anthropic", Reply(wire.anthropic_message("x", stop_reason=stop_reason)))
    assert adapter.chat(MODEL, HELLO).finish_reason == expected


def test_refusal_reply(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", Reply(wire.anthropic_message([], stop_reason="refusal")))
    reply = adapter.chat(MODEL, HELLO)
    assert reply.content == ""
    assert reply.finish_reason == "content_filter"
    assert reply.refusal


def test_tool_use_reply(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    block = {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "Paris"}}
    emu.enqueue("anthropic", Reply(wire.anthropic_message([block], stop_reason="tool_use")))
    reply = adapter.chat(MODEL, HELLO)
    assert reply.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("toolu_01", "lookup", {"q": "Paris"})
    ]


def test_thinking_blocks_are_not_content(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "EqQB"},
        {"type": "text", "text": "Four"},
        {"type": "text", "text": "."},
    ]
    emu.enqueue("anthropic", Reply(wire.anthropic_message(blocks)))
    assert adapter.chat(MODEL, HELLO).content == "Four."


def test_usage_normalization(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    body = wire.anthropic_message(
        "x",
        input_tokens=12,
        output_tokens=30,
        cache_creation_input_tokens=200,
        cache_read_input_tokens=2000,
    )
    emu.enqueue("anthropic", Reply(body))
    assert adapter.chat(MODEL, HELLO).usage == Usage(
        prompt_tokens=2212,
        completion_tokens=30,
        total_tokens=2242,
        cached_tokens=2000,
        cache_write_tokens=200,
    )


# -- JSON mode ------------------------------------------------------------------------------


def json_reply(data: dict[str, Any]) -> Reply:
    block = {"type": "tool_use", "id": "toolu_01", "name": "json_output", "input": data}
    return Reply(wire.anthropic_message([block], stop_reason="tool_use"))


def test_json_object_mode(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", json_reply({"name": "Ada", "age": 36}))
    reply = adapter.chat(MODEL, ask(("user", "Who?"), response_format={"type": "json_object"}))
    assert json.loads(reply.content) == {"name": "Ada", "age": 36}
    assert reply.finish_reason == "stop"
    assert reply.tool_calls == []
    body = emu.last_request("anthropic").json
    assert body["tool_choice"] == {"type": "tool", "name": "json_output"}
    assert body["tools"][0]["name"] == "json_output"
    assert body["tools"][0]["input_schema"] == {"type": "object"}


async def test_json_schema_mode_async(aadapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", json_reply({"name": "Ada"}))
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    reply = await aadapter.achat(MODEL, ask(("user", "Who?"), response_format=response_format))
    assert json.loads(reply.content) == {"name": "Ada"}
    body = emu.last_request("anthropic").json
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "json_output"}


def test_json_schema_with_thinking_uses_output_config(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", Reply(wire.anthropic_message('{"name": "Ada"}')))
    response_format = {"type": "json_schema", "json_schema": {"schema": SCHEMA}}
    options = {"thinking": {"type": "adaptive"}}
    reply = adapter.chat(
        MODEL, ask(("user", "Who?"), response_format=response_format, options=options)
    )
    assert json.loads(reply.content) == {"name": "Ada"}
    body = emu.last_request("anthropic").json
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tool_choice" not in body


# -- errors ---------------------------------------------------------------------------------


def error_reply(status: int, kind: str, message: str, **headers: str) -> Reply:
    return Reply(wire.anthropic_error(kind, message), status=status, headers=headers)


@pytest.mark.parametrize(
    ("reply", "error_class", "status"),
    [
        (error_reply(401, "authentication_error", "invalid x-api-key"), AuthenticationError, 401),
        (error_reply(403, "permission_error", "no access to model"), PermissionDeniedError, 403),
        (error_reply(404, "not_found_error", "model: claude-nope"), NotFoundError, 404),
        (
            error_reply(400, "invalid_request_error", "max_tokens: too big"),
            InvalidRequestError,
            400,
        ),
        (error_reply(500, "api_error", "Internal server error"), ProviderUnavailableError, 500),
        (error_reply(529, "overloaded_error", "Overloaded"), ProviderUnavailableError, 529),
        (
            Fault(503, b"upstream connect error or disconnect/reset before headers"),
            ProviderUnavailableError,
            503,
        ),
        (
            Fault(
                503, b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "text/html"
            ),
            ProviderUnavailableError,
            503,
        ),
    ],
)
def test_http_errors_are_translated(
    adapter: AnthropicAdapter,
    emu: ProviderEmulator,
    reply: Reply | Fault,
    error_class: type[LLMError],
    status: int,
) -> None:
    emu.enqueue("anthropic", reply)
    with pytest.raises(error_class) as caught:
        adapter.chat(MODEL, HELLO)
    error = caught.value
    assert (error.provider, error.model, error.status_code) == ("anthropic", MODEL, status)
    assert error.__cause__ is not None
    assert "<html" not in str(error).lower()


def test_error_message_names_the_anthropic_error(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", error_reply(400, "invalid_request_error", "max_tokens: too big"))
    with pytest.raises(InvalidRequestError, match="invalid_request_error: max_tokens: too big"):
        adapter.chat(MODEL, HELLO)


def test_rate_limit_carries_retry_after(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "anthropic", error_reply(429, "rate_limit_error", "slow down", **{"retry-after": "7"})
    )
    with pytest.raises(RateLimitError) as caught:
        adapter.chat(MODEL, HELLO)
    assert caught.value.retry_after == 7.0
    assert caught.value.retryable


async def test_errors_are_translated_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "anthropic",
        error_reply(529, "overloaded_error", "Overloaded"),
        error_reply(429, "rate_limit_error", "slow down", **{"retry-after": "2"}),
        error_reply(401, "authentication_error", "invalid x-api-key"),
    )
    with pytest.raises(ProviderUnavailableError):
        await aadapter.achat(MODEL, HELLO)
    with pytest.raises(RateLimitError) as caught:
        await aadapter.achat(MODEL, HELLO)
    assert caught.value.retry_after == 2.0
    with pytest.raises(AuthenticationError):
        await aadapter.achat(MODEL, HELLO)


def test_timeout(emu: ProviderEmulator) -> None:
    slow = make_adapter(emu, timeout=0.3)
    emu.enqueue("anthropic", Reply(wire.anthropic_message("late"), delay=2.0))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as caught:
        slow.chat(MODEL, HELLO)
    assert time.monotonic() - started < 1.8
    assert caught.value.retryable
    slow._client.close()


async def test_timeout_async(emu: ProviderEmulator) -> None:
    slow = make_adapter(emu, timeout=0.3)
    emu.enqueue("anthropic", Reply(wire.anthropic_message("late"), delay=2.0))
    with pytest.raises(LLMTimeoutError):
        await slow.achat(MODEL, HELLO)
    await slow.aclose()
    slow._client.close()


@pytest.mark.parametrize("mode", ["before", "mid_body"])
def test_dropped_connection(adapter: AnthropicAdapter, emu: ProviderEmulator, mode: str) -> None:
    emu.enqueue("anthropic", Fault(200, drop_connection=mode))  # type: ignore[arg-type]
    with pytest.raises(APIConnectionError) as caught:
        adapter.chat(MODEL, HELLO)
    assert (caught.value.provider, caught.value.model) == ("anthropic", MODEL)


async def test_dropped_connection_async(aadapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", Fault(200, drop_connection=True))
    with pytest.raises(APIConnectionError):
        await aadapter.achat(MODEL, HELLO)


@pytest.mark.parametrize(
    "reply",
    [
        Reply("this is not JSON", content_type="text/plain"),
        Reply({"unexpected": "shape"}),
        Reply({"type": "message", "role": "assistant", "content": None}),
    ],
)
def test_malformed_reply(adapter: AnthropicAdapter, emu: ProviderEmulator, reply: Reply) -> None:
    emu.enqueue("anthropic", reply)
    with pytest.raises(ProviderUnavailableError, match="malformed reply") as caught:
        adapter.chat(MODEL, HELLO)
    assert caught.value.provider == "anthropic"


def test_only_system_messages_fail_before_sending(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    with pytest.raises(InvalidRequestError):
        adapter.chat(MODEL, ask(("system", "alone")))
    assert emu.requests_for("anthropic") == []


# -- the key --------------------------------------------------------------------------------


def test_key_goes_in_x_api_key_header_only(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(MODEL, HELLO)
    sent = emu.last_request("anthropic")
    assert sent.headers["x-api-key"] == KEY
    assert "authorization" not in sent.headers
    assert KEY not in sent.path and KEY not in json.dumps(sent.query)
    assert KEY not in sent.body.decode()


def test_key_echoed_by_the_provider_never_shows(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "anthropic",
        error_reply(401, "authentication_error", f"invalid x-api-key: {KEY}"),
    )
    with pytest.raises(AuthenticationError) as caught:
        adapter.chat(MODEL, HELLO)
    error = caught.value
    cause = error.__cause__
    shown = [str(error), repr(error), error.message, str(cause), repr(cause), str(cause.body)]  # type: ignore[union-attr]
    assert all(KEY not in text and KEY[:20] not in text for text in shown)
    assert "[REDACTED]" in str(error)
    assert "sk-ant" not in repr(adapter._config)


# -- embeddings -----------------------------------------------------------------------------


def test_no_embeddings(adapter: AnthropicAdapter) -> None:
    assert adapter.capabilities.embeddings is False
    with pytest.raises(InvalidRequestError, match="does not support embeddings"):
        adapter.embeddings(MODEL, ["a"], {})


# -- streaming ------------------------------------------------------------------------------


def test_stream_text(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", wire.anthropic_events(["Hel", "lo ", "world"], output_tokens=3))
    chunks = list(adapter.stream(MODEL, HELLO))
    assert "".join(c.delta for c in chunks) == "Hello world"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13)
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert emu.last_request("anthropic").json["stream"] is True


async def test_stream_text_async(aadapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    chunks = [c async for c in aadapter.astream(MODEL, HELLO)]
    assert "".join(c.delta for c in chunks) == "echo: Hello there"
    assert chunks[-1].finish_reason == "stop"


def test_stream_finish_by_length(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", wire.anthropic_events("Once upon a", stop_reason="max_tokens"))
    chunks = list(adapter.stream(MODEL, ask(("user", "story"), max_tokens=3)))
    assert chunks[-1].finish_reason == "length"


async def test_stream_finish_by_length_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", wire.anthropic_events("Once upon a", stop_reason="max_tokens"))
    chunks = [c async for c in aadapter.astream(MODEL, ask(("user", "story"), max_tokens=3))]
    assert chunks[-1].finish_reason == "length"


def test_stream_json_mode(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    block = {"type": "tool_use", "name": "json_output", "input": {"name": "Ada"}}
    emu.enqueue("anthropic", wire.anthropic_events([block], stop_reason="tool_use"))
    request = ask(("user", "Who?"), response_format={"type": "json_object"})
    chunks = list(adapter.stream(MODEL, request))
    assert json.loads("".join(c.delta for c in chunks)) == {"name": "Ada"}
    assert chunks[-1].finish_reason == "stop"


def test_stream_error_before_the_stream(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", error_reply(529, "overloaded_error", "Overloaded"))
    with pytest.raises(ProviderUnavailableError) as caught:
        list(adapter.stream(MODEL, HELLO))
    assert caught.value.status_code == 529


async def test_stream_error_before_the_stream_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", error_reply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(AuthenticationError):
        [c async for c in aadapter.astream(MODEL, HELLO)]


OVERLOADED = {"type": "overloaded_error", "message": "Overloaded"}


def test_stream_error_event_mid_stream(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", wire.anthropic_events(["Hel", "lo"], error=OVERLOADED))
    received: list[str] = []
    with pytest.raises(ProviderUnavailableError, match="overloaded_error") as caught:
        for chunk in adapter.stream(MODEL, HELLO):
            received.append(chunk.delta)
    assert received == ["Hel"]
    assert caught.value.status_code == 529


async def test_stream_error_event_mid_stream_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", wire.anthropic_events(["Hel", "lo"], error=OVERLOADED))
    received: list[str] = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in aadapter.astream(MODEL, HELLO):
            received.append(chunk.delta)
    assert received == ["Hel"]


def dropped_stream() -> SSEReply:
    events = wire.anthropic_events(["Hel", "lo", " there"]).events
    return SSEReply(events, event_names=True, drop_after=4)  # start, block start, ping, "Hel"


def test_stream_dropped_connection(adapter: AnthropicAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", dropped_stream())
    received: list[str] = []
    with pytest.raises(APIConnectionError):
        for chunk in adapter.stream(MODEL, HELLO):
            received.append(chunk.delta)
    assert received == ["Hel"]


async def test_stream_dropped_connection_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", dropped_stream())
    received: list[str] = []
    with pytest.raises(APIConnectionError):
        async for chunk in aadapter.astream(MODEL, HELLO):
            received.append(chunk.delta)
    assert received == ["Hel"]


def test_stream_without_message_stop_is_an_error(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    events = wire.anthropic_events(["Hel", "lo"]).events[:-1]  # cleanly closed, no message_stop
    emu.enqueue("anthropic", SSEReply(events, event_names=True))
    received: list[str] = []
    with pytest.raises(ProviderUnavailableError, match="stream ended early"):
        for chunk in adapter.stream(MODEL, HELLO):
            received.append(chunk.delta)
    assert received == ["Hel", "lo"]


async def test_stream_without_message_stop_is_an_error_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    events = wire.anthropic_events(["Hel", "lo"]).events[:-1]
    emu.enqueue("anthropic", SSEReply(events, event_names=True))
    with pytest.raises(ProviderUnavailableError, match="stream ended early"):
        [c async for c in aadapter.astream(MODEL, HELLO)]


def busy_connections(client: Any) -> int:
    """Connections of the SDK's HTTP pool still serving a response (peeks at httpx2's pool)."""
    pool = client._client._transport._pool
    return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())


def slow_stream() -> SSEReply:
    return SSEReply(
        wire.anthropic_events(["a", "b", "c", "d", "e"]).events, event_names=True, delay=0.05
    )


def test_stream_early_close_closes_the_response(
    adapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", slow_stream())
    chunks = adapter.stream(MODEL, HELLO)
    assert next(iter(chunks)).delta == "a"
    assert busy_connections(adapter._client) == 1
    chunks.close()  # type: ignore[attr-defined]
    assert busy_connections(adapter._client) == 0
    assert adapter.chat(MODEL, HELLO).content == "echo: Hello there"


async def test_stream_early_close_closes_the_response_async(
    aadapter: AnthropicAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", slow_stream())
    chunks = aadapter.astream(MODEL, HELLO)
    async for chunk in chunks:
        assert chunk.delta == "a"
        break
    await chunks.aclose()  # type: ignore[attr-defined]
    client = aadapter._async.get()
    pool = client._client._transport._pool
    assert sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed()) == 0
    assert (await aadapter.achat(MODEL, HELLO)).content == "echo: Hello there"


# -- through the container ------------------------------------------------------------------


@pytest.fixture
def container(emu: ProviderEmulator, container_with: Callable[..., Container]) -> Container:
    return container_with(
        llm_service=f"anthropic/{MODEL}",
        anthropic_api_key=KEY,
        anthropic_base_url=emu.anthropic_base_url,
        llm_max_retries=0,
    )


def test_chat_through_the_container(container: Container, emu: ProviderEmulator) -> None:
    client = container.chat_client()
    assert (client.provider, client.model) == ("anthropic", MODEL)
    assert client.capabilities.json_mode and not client.supports_embeddings()
    reply = client.chat(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=20,
    )
    assert reply.content == "echo: Hi"
    sent = emu.last_request("anthropic")
    assert (sent.json["system"], sent.json["max_tokens"]) == ("Be brief.", 20)
    assert sent.headers["x-api-key"] == KEY


async def test_async_chat_and_stream_through_the_container(container: Container) -> None:
    client = container.async_chat_client()
    reply = await client.chat([{"role": "user", "content": "Hi"}])
    assert reply.content == "echo: Hi"
    chunks = [c async for c in client.stream([{"role": "user", "content": "Hi"}])]
    assert "".join(c.delta for c in chunks) == "echo: Hi"
    await container.anthropic.adapter().aclose()
