"""The OpenAI adapter through the real SDK, over real HTTP, against the provider emulator."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import pytest

from persona_llm.containers import Container
from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
    ResponseParseError,
)
from persona_llm.providers import build_adapter
from persona_llm.providers.openai.adapter import OpenAIAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply, SSEReply
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest, Usage

KEY = "sk-test-abcdef123456"
MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"


def make_adapter(emu: ProviderEmulator, **overrides: Any) -> OpenAIAdapter:
    adapter_options = {
        k: overrides.pop(k)
        for k in ("unsupported_params", "embedding_batch_size")
        if k in overrides
    }
    fields: dict[str, Any] = {
        "name": "openai",
        "api_key": KEY,
        "base_url": emu.openai_base_url,
        "timeout": 5,
        "connect_timeout": 2,
        **overrides,
    }
    config = ProviderConfig(**fields)
    return cast(OpenAIAdapter, build_adapter(config, **adapter_options))


@pytest.fixture(scope="module")
def shared_adapter(emulator: ProviderEmulator) -> Iterator[OpenAIAdapter]:
    # One adapter per module: building an SDK client costs ~50 ms (TLS context).
    adapter = make_adapter(emulator)
    yield adapter
    adapter.close()
    adapter._client.close()


@pytest.fixture
def adapter(shared_adapter: OpenAIAdapter, emu: ProviderEmulator) -> OpenAIAdapter:
    return shared_adapter


@pytest.fixture
async def aadapter(
    shared_adapter: OpenAIAdapter, emu: ProviderEmulator
) -> AsyncIterator[OpenAIAdapter]:
    yield shared_adapter
    await shared_adapter.aclose()  # inside the test's loop, so no connection outlives it


def ask(*turns: tuple[str, str], **fields: Any) -> ChatRequest:
    messages = tuple(ChatMessage(role=role, content=text) for role, text in turns)  # type: ignore[arg-type]
    return ChatRequest(messages=messages or (ChatMessage(role="user", content="Hi"),), **fields)


def no_key_anywhere(exc: BaseException) -> None:
    """The key shows in no message, repr, chained exception or formatted traceback."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), str(getattr(current, "body", ""))]
        current = current.__cause__ or current.__context__
    for text in texts:
        assert KEY not in text
        assert "sk-test-****3456" not in text
        assert "abcdef123456" not in text


# -- chat -------------------------------------------------------------------------------


def test_plain_text(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    reply = adapter.chat(MODEL, ask(("user", "Hello there")))
    assert reply.content == "echo: Hello there"
    assert reply.provider == "openai"
    assert reply.model == MODEL
    assert reply.finish_reason == "stop"
    assert emu.last_request("openai").path == "/v1/chat/completions"


async def test_plain_text_async(aadapter: OpenAIAdapter) -> None:
    reply = await aadapter.achat(MODEL, ask(("user", "Hello there")))
    assert reply.content == "echo: Hello there"
    assert reply.finish_reason == "stop"


def test_successive_asyncio_runs_each_get_a_working_client(adapter: OpenAIAdapter) -> None:
    async def once(text: str) -> str:
        try:
            return (await adapter.achat(MODEL, ask(("user", text)))).content
        finally:
            await adapter.aclose()

    assert asyncio.run(once("one")) == "echo: one"
    assert asyncio.run(once("two")) == "echo: two"


def test_system_prompt_stays_in_messages_in_order(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(MODEL, ask(("system", "Be brief."), ("user", "Hi")))
    body = emu.last_request("openai").json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert "system" not in body


async def test_multi_turn_roles_async(aadapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    turns = [("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2")]
    reply = await aadapter.achat(MODEL, ask(*turns))
    assert reply.content == "echo: U2"
    sent = emu.last_request("openai").json["messages"]
    assert [(m["role"], m["content"]) for m in sent] == turns


def test_unset_options_are_not_sent(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    adapter.chat(MODEL, ask(("user", "Hi")))
    assert set(emu.last_request("openai").json) == {"model", "messages"}


def test_set_options_and_provider_options_are_sent(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    request = ask(
        ("user", "Hi"),
        temperature=0.0,
        stop=("END",),
        options={"seed": 7, "top_k": 3},  # top_k: not an SDK argument, sent in the body
    )
    adapter.chat(MODEL, request)
    body = emu.last_request("openai").json
    assert body["temperature"] == 0.0
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["top_k"] == 3


def test_max_tokens_finish_is_length(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("Once upon a", finish_reason="length")))
    reply = adapter.chat(MODEL, ask(("user", "Tell a story"), max_tokens=3))
    assert reply.finish_reason == "length"
    assert reply.content == "Once upon a"
    assert emu.last_request("openai").json["max_tokens"] == 3


async def test_max_tokens_finish_is_length_async(
    aadapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("Once", finish_reason="length")))
    reply = await aadapter.achat(MODEL, ask(("user", "Tell a story"), max_tokens=1))
    assert reply.finish_reason == "length"


def test_reasoning_model_gets_max_completion_tokens(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "openai",
        Reply(
            wire.openai_chat(
                "",
                model="gpt-5-mini-2025-08-07",
                finish_reason="length",
                completion_tokens=64,
                reasoning_tokens=64,
            )
        ),
    )
    reply = adapter.chat("gpt-5-mini", ask(("user", "Think"), max_tokens=64))
    body = emu.last_request("openai").json
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body
    assert reply.content == ""
    assert reply.finish_reason == "length"
    assert reply.usage is not None and reply.usage.reasoning_tokens == 64


def test_reasoning_model_temperature_fails_before_the_call(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    with pytest.raises(InvalidRequestError, match="temperature") as caught:
        adapter.chat("o3-mini", ask(("user", "Hi"), temperature=0.2))
    assert caught.value.provider == "openai"
    assert emu.request_count == 0


async def test_reasoning_model_temperature_dropped_with_a_warning(
    emu: ProviderEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    aadapter = make_adapter(emu, unsupported_params="drop")
    with caplog.at_level(logging.WARNING):
        reply = await aadapter.achat("o3-mini", ask(("user", "Hi"), temperature=0.2))
    assert reply.content == "echo: Hi"
    assert "temperature" not in emu.last_request("openai").json
    assert any("temperature" in r.getMessage() for r in caplog.records)
    await aadapter.aclose()
    aadapter._client.close()


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "strict": True,
                "schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
            },
        },
    ],
)
def test_json_mode_is_sent_natively(
    adapter: OpenAIAdapter, emu: ProviderEmulator, response_format: dict[str, Any]
) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat('{"a": 1}')))
    reply = adapter.chat(MODEL, ask(("user", "JSON please"), response_format=response_format))
    assert emu.last_request("openai").json["response_format"] == response_format
    assert reply.content == '{"a": 1}'


async def test_json_mode_async(aadapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat('{"ok": true}')))
    reply = await aadapter.achat(
        MODEL, ask(("user", "JSON"), response_format={"type": "json_object"})
    )
    assert emu.last_request("openai").json["response_format"] == {"type": "json_object"}
    assert reply.content == '{"ok": true}'


def test_usage_is_normalized(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "openai",
        Reply(
            wire.openai_chat(
                "x", prompt_tokens=120, completion_tokens=30, reasoning_tokens=10, cached_tokens=64
            )
        ),
    )
    reply = adapter.chat(MODEL, ask(("user", "Hi")))
    assert reply.usage == Usage(
        prompt_tokens=120,
        completion_tokens=30,
        total_tokens=150,
        reasoning_tokens=10,
        cached_tokens=64,
    )


@pytest.mark.parametrize(
    ("wire_reason", "normalized"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
    ],
)
def test_finish_reason_is_normalized(
    adapter: OpenAIAdapter, emu: ProviderEmulator, wire_reason: str, normalized: str
) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("x", finish_reason=wire_reason)))
    assert adapter.chat(MODEL, ask(("user", "Hi"))).finish_reason == normalized


def test_refusal_and_tool_calls(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "openai",
        Reply(wire.openai_chat(None, refusal="I can't help with that.")),
        Reply(
            wire.openai_chat(None, tool_calls=[{"id": "c1", "name": "f", "arguments": {"x": 1}}])
        ),
        Reply(wire.openai_chat(None, tool_calls=[{"id": "c2", "name": "f", "arguments": "{x"}])),
    )
    refused = adapter.chat(MODEL, ask(("user", "Hi")))
    assert (refused.content, refused.refusal) == ("", "I can't help with that.")
    called = adapter.chat(MODEL, ask(("user", "Hi")))
    assert [(c.id, c.name, c.arguments) for c in called.tool_calls] == [("c1", "f", {"x": 1})]
    with pytest.raises(ResponseParseError):
        adapter.chat(MODEL, ask(("user", "Hi")))


def test_reply_with_unknown_fields_parses(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    body = wire.openai_chat("fine")
    body["choices"][0]["message"]["obfuscation"] = "abc"
    body["new_top_level"] = {"nested": [1, 2]}
    emu.enqueue("openai", Reply(body))
    assert adapter.chat(MODEL, ask(("user", "Hi"))).content == "fine"


# -- embeddings -------------------------------------------------------------------------


def test_embeddings_are_decoded_from_base64_in_order(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    texts = ["alpha", "beta", "gamma", "delta"]
    vectors = adapter.embeddings(EMBEDDING_MODEL, texts, {})
    assert vectors == [wire.fake_vector(t) for t in texts]
    request = emu.last_request("openai")
    assert request.path == "/v1/embeddings"
    assert request.json["encoding_format"] == "base64"
    assert request.json["input"] == texts
    assert "dimensions" not in request.json


async def test_embeddings_async(aadapter: OpenAIAdapter) -> None:
    texts = ["one", "two", "three"]
    assert await aadapter.aembeddings(EMBEDDING_MODEL, texts, {}) == [
        wire.fake_vector(t) for t in texts
    ]


def test_embedding_dimensions_from_config_or_options(emu: ProviderEmulator) -> None:
    adapter = make_adapter(emu, embedding_dimensions=4)
    assert adapter.embeddings(EMBEDDING_MODEL, ["a"], {}) == [wire.fake_vector("a", 4)]
    assert emu.last_request("openai").json["dimensions"] == 4
    assert adapter.embeddings(EMBEDDING_MODEL, ["a"], {"dimensions": 6}) == [
        wire.fake_vector("a", 6)
    ]
    assert emu.last_request("openai").json["dimensions"] == 6
    adapter._client.close()


def test_embeddings_are_batched_and_keep_order(emu: ProviderEmulator) -> None:
    adapter = make_adapter(emu, embedding_batch_size=2)
    texts = [f"text {i}" for i in range(5)]
    assert adapter.embeddings(EMBEDDING_MODEL, texts, {}) == [wire.fake_vector(t) for t in texts]
    assert [r.json["input"] for r in emu.requests_for("openai")] == [
        texts[0:2],
        texts[2:4],
        texts[4:5],
    ]
    adapter._client.close()


async def test_embeddings_are_batched_async(emu: ProviderEmulator) -> None:
    aadapter = make_adapter(emu, embedding_batch_size=3)
    texts = [f"t{i}" for i in range(7)]
    assert await aadapter.aembeddings(EMBEDDING_MODEL, texts, {}) == [
        wire.fake_vector(t) for t in texts
    ]
    assert len(emu.requests_for("openai")) == 3
    await aadapter.aclose()
    aadapter._client.close()


def test_embedding_reply_out_of_order_is_reordered(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    body = wire.openai_embeddings([wire.fake_vector("a"), wire.fake_vector("b")])
    body["data"].reverse()
    emu.enqueue("openai", Reply(body))
    assert adapter.embeddings(EMBEDDING_MODEL, ["a", "b"], {}) == [
        wire.fake_vector("a"),
        wire.fake_vector("b"),
    ]


def test_no_texts_no_request(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    assert adapter.embeddings(EMBEDDING_MODEL, [], {}) == []
    assert emu.request_count == 0


# -- errors -----------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        Reply(
            wire.openai_error(
                "Incorrect API key provided: sk-test-****3456. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
            status=401,
        ),
        AuthenticationError,
        401,
        id="401",
    ),
    pytest.param(
        Reply(wire.openai_error("Project does not have access", code=None), status=403),
        PermissionDeniedError,
        403,
        id="403",
    ),
    pytest.param(
        Reply(
            wire.openai_error("The model `gpt-9` does not exist", code="model_not_found"),
            status=404,
        ),
        NotFoundError,
        404,
        id="404",
    ),
    pytest.param(
        Reply(
            wire.openai_error(
                "Unsupported value: 'temperature'", code="unsupported_value", param="temperature"
            ),
            status=400,
        ),
        InvalidRequestError,
        400,
        id="400",
    ),
    pytest.param(
        Reply(wire.openai_error("The server had an error", type="server_error"), status=500),
        ProviderUnavailableError,
        500,
        id="500",
    ),
    pytest.param(
        Fault(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"),
        ProviderUnavailableError,
        503,
        id="503-html",
    ),
]


@pytest.mark.parametrize(("reply", "error", "status"), ERROR_CASES)
def test_status_errors(
    adapter: OpenAIAdapter,
    emu: ProviderEmulator,
    reply: Reply | Fault,
    error: type[LLMError],
    status: int,
) -> None:
    emu.enqueue("openai", reply)
    with pytest.raises(error) as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert type(caught.value) is error
    assert (caught.value.provider, caught.value.model) == ("openai", MODEL)
    assert caught.value.status_code == status
    assert caught.value.__cause__ is not None
    no_key_anywhere(caught.value)


@pytest.mark.parametrize(("reply", "error", "status"), ERROR_CASES)
async def test_status_errors_async(
    aadapter: OpenAIAdapter,
    emu: ProviderEmulator,
    reply: Reply | Fault,
    error: type[LLMError],
    status: int,
) -> None:
    emu.enqueue("openai", reply)
    with pytest.raises(error) as caught:
        await aadapter.achat(MODEL, ask(("user", "Hi")))
    assert caught.value.status_code == status
    no_key_anywhere(caught.value)


def test_html_error_page_is_described_not_dumped(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "openai", Fault(502, b"<!DOCTYPE html><html><body>Bad gateway</body></html>", "text/html")
    )
    with pytest.raises(ProviderUnavailableError, match="HTML page") as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert "<html" not in str(caught.value)
    assert caught.value.retryable


@pytest.mark.parametrize("retry_after", [{"retry-after": "2"}, {"retry-after-ms": "2000"}])
def test_rate_limit_carries_retry_after(
    adapter: OpenAIAdapter, emu: ProviderEmulator, retry_after: dict[str, str]
) -> None:
    body = wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded")
    emu.enqueue("openai", Reply(body, status=429, headers=retry_after))
    with pytest.raises(RateLimitError) as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert caught.value.retry_after == 2.0
    assert caught.value.retryable
    assert caught.value.status_code == 429


async def test_rate_limit_async(aadapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    body = wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded")
    emu.enqueue("openai", Reply(body, status=429, headers={"retry-after": "1"}))
    with pytest.raises(RateLimitError) as caught:
        await aadapter.aembeddings(EMBEDDING_MODEL, ["a"], {})
    assert caught.value.retry_after == 1.0


def test_the_full_key_echoed_in_an_error_is_redacted(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    body = wire.openai_error(f"Incorrect API key provided: {KEY}.", code="invalid_api_key")
    emu.enqueue("openai", Reply(body, status=401))
    with pytest.raises(AuthenticationError) as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    no_key_anywhere(caught.value)


def test_timeout(emu: ProviderEmulator) -> None:
    adapter = make_adapter(emu, timeout=0.2)
    emu.enqueue("openai", Reply(wire.openai_chat("late"), delay=1.5))
    with pytest.raises(LLMTimeoutError) as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert caught.value.retryable
    assert caught.value.provider == "openai"
    no_key_anywhere(caught.value)
    adapter._client.close()


async def test_timeout_async(emu: ProviderEmulator) -> None:
    aadapter = make_adapter(emu, timeout=0.2)
    emu.enqueue("openai", Reply(wire.openai_chat("late"), delay=1.5))
    with pytest.raises(LLMTimeoutError):
        await aadapter.achat(MODEL, ask(("user", "Hi")))
    await aadapter.aclose()
    aadapter._client.close()


@pytest.mark.parametrize("drop", ["before", "mid_body"])
def test_dropped_connection(adapter: OpenAIAdapter, emu: ProviderEmulator, drop: str) -> None:
    emu.enqueue("openai", Fault(200, wire.openai_chat("x"), drop_connection=drop))  # type: ignore[arg-type]
    with pytest.raises(APIConnectionError) as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert caught.value.retryable
    no_key_anywhere(caught.value)


async def test_dropped_connection_async(aadapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Fault(drop_connection=True))
    with pytest.raises(APIConnectionError):
        await aadapter.achat(MODEL, ask(("user", "Hi")))


def test_connection_refused(emu: ProviderEmulator) -> None:
    adapter = make_adapter(emu, base_url="http://127.0.0.1:9/v1", connect_timeout=0.5)
    with pytest.raises(APIConnectionError):
        adapter.chat(MODEL, ask(("user", "Hi")))
    adapter._client.close()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({**wire.openai_chat("x"), "choices": []}, id="no-choices"),
        pytest.param(b"this is not json", id="not-json"),
        pytest.param({"unexpected": "shape"}, id="wrong-shape"),
    ],
)
def test_malformed_reply(adapter: OpenAIAdapter, emu: ProviderEmulator, body: Any) -> None:
    emu.enqueue("openai", Reply(body))
    with pytest.raises(ProviderUnavailableError, match="malformed") as caught:
        adapter.chat(MODEL, ask(("user", "Hi")))
    assert caught.value.provider == "openai"


def test_malformed_embedding_reply(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply({"object": "list", "data": [], "model": EMBEDDING_MODEL}))
    with pytest.raises(ProviderUnavailableError, match="malformed"):
        adapter.embeddings(EMBEDDING_MODEL, ["a"], {})


def test_key_is_sent_as_a_header_never_in_the_url(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(MODEL, ask(("user", "Hi")))
    adapter.embeddings(EMBEDDING_MODEL, ["a"], {})
    for request in emu.requests_for("openai"):
        assert KEY not in request.path
        assert KEY not in str(request.query)
        assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(adapter)


# -- through the container --------------------------------------------------------------


@pytest.fixture
def container(emu: ProviderEmulator, container_with: Callable[..., Container]) -> Container:
    return container_with(
        llm_service=f"openai/{MODEL}",
        embedding_service=f"openai/{EMBEDDING_MODEL}",
        openai_api_key=KEY,
        openai_base_url=emu.openai_base_url,
        llm_max_retries=0,
    )


def test_through_the_container(container: Container, emu: ProviderEmulator) -> None:
    reply = container.chat_client().chat([{"role": "user", "content": "via container"}])
    assert reply.content == "echo: via container"
    assert emu.last_request("openai").json["model"] == MODEL
    vectors = container.embedding_client().embeddings(["x", "y"])
    assert vectors == [wire.fake_vector("x"), wire.fake_vector("y")]


async def test_through_the_container_async(container: Container) -> None:
    client = container.async_chat_client()
    reply = await client.chat([{"role": "user", "content": "async"}], max_tokens=5)
    assert reply.content == "echo: async"
    assert client.capabilities.json_mode and client.capabilities.embeddings
    await container.openai.adapter().aclose()


def test_close_closes_async_clients_of_loops_still_open(adapter: OpenAIAdapter) -> None:
    loop = asyncio.new_event_loop()
    try:
        reply = loop.run_until_complete(adapter.achat(MODEL, ask(("user", "Hi"))))
        assert reply.content == "echo: Hi"
        client = dict(adapter._async.items())[loop]
        adapter.close()
        assert client.is_closed()
        assert adapter._async.items() == []
    finally:
        loop.close()


# -- streaming --------------------------------------------------------------------------


def collect(chunks: Iterator[ChatChunk]) -> tuple[list[ChatChunk], BaseException | None]:
    """Chunks read before the stream ended or failed, and the error if it failed."""
    seen: list[ChatChunk] = []
    try:
        for chunk in chunks:
            seen.append(chunk)
    except LLMError as exc:
        return seen, exc
    return seen, None


async def acollect(
    chunks: AsyncIterator[ChatChunk],
) -> tuple[list[ChatChunk], BaseException | None]:
    seen: list[ChatChunk] = []
    try:
        async for chunk in chunks:
            seen.append(chunk)
    except LLMError as exc:
        return seen, exc
    return seen, None


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(chunk.delta for chunk in chunks)


def test_streamed_text(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "stream this please"))))
    assert error is None
    assert text_of(chunks) == "echo: stream this please"
    assert len(chunks) > 2
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    body = emu.last_request("openai").json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_streamed_text_async(aadapter: OpenAIAdapter) -> None:
    chunks, error = await acollect(aadapter.astream(MODEL, ask(("user", "stream async"))))
    assert error is None
    assert text_of(chunks) == "echo: stream async"
    assert chunks[-1].finish_reason == "stop"


def test_streamed_finish_by_length(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    usage = wire.openai_usage(7, 2)
    emu.enqueue(
        "openai", wire.openai_chunks(["Once", " upon"], finish_reason="length", usage=usage)
    )
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "story"), max_tokens=2)))
    assert error is None
    assert text_of(chunks) == "Once upon"
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage == Usage(prompt_tokens=7, completion_tokens=2, total_tokens=9)
    assert emu.last_request("openai").json["max_tokens"] == 2


async def test_streamed_finish_by_length_async(
    aadapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", wire.openai_chunks(["Once"], finish_reason="length"))
    chunks, error = await acollect(aadapter.astream(MODEL, ask(("user", "story"), max_tokens=1)))
    assert error is None
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage is None  # the caller's stream_options could turn usage off


def test_invalid_request_fails_when_stream_is_called(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    with pytest.raises(InvalidRequestError, match="temperature"):
        adapter.stream("o3", ask(("user", "Hi"), temperature=0.1))
    with pytest.raises(InvalidRequestError, match="temperature"):
        adapter.astream("o3", ask(("user", "Hi"), temperature=0.1))
    assert emu.request_count == 0


def test_error_before_the_stream(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    body = wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded")
    emu.enqueue("openai", Reply(body, status=429, headers={"retry-after": "1"}))
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "Hi"))))
    assert chunks == []
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1.0


async def test_error_before_the_stream_async(
    aadapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    body = wire.openai_error(f"Incorrect API key provided: {KEY}", code="invalid_api_key")
    emu.enqueue("openai", Reply(body, status=401))
    chunks, error = await acollect(aadapter.astream(MODEL, ask(("user", "Hi"))))
    assert chunks == []
    assert isinstance(error, AuthenticationError)
    no_key_anywhere(error)


def error_mid_stream() -> SSEReply:
    stream = wire.openai_chunks(["Hello", " wor"])
    error = wire.openai_error("The server had an error while processing", type="server_error")
    events = [*stream.events[:3], error]  # role chunk, two text chunks, then the error
    return dataclasses.replace(stream, events=events, done=False)


def test_error_mid_stream(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", error_mid_stream())
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "Hi"))))
    assert text_of(chunks) == "Hello wor"
    assert isinstance(error, ProviderUnavailableError)
    assert "server had an error" in str(error)


async def test_error_mid_stream_async(aadapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", error_mid_stream())
    chunks, error = await acollect(aadapter.astream(MODEL, ask(("user", "Hi"))))
    assert text_of(chunks) == "Hello wor"
    assert isinstance(error, ProviderUnavailableError)


def dropped_stream() -> SSEReply:
    return dataclasses.replace(wire.openai_chunks(["one ", "two ", "three"]), drop_after=3)


def test_dropped_connection_mid_stream(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", dropped_stream())
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "Hi"))))
    assert text_of(chunks) == "one two "
    assert isinstance(error, APIConnectionError)
    assert all(c.finish_reason is None for c in chunks)


async def test_dropped_connection_mid_stream_async(
    aadapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", dropped_stream())
    chunks, error = await acollect(aadapter.astream(MODEL, ask(("user", "Hi"))))
    assert text_of(chunks) == "one two "
    assert isinstance(error, APIConnectionError)


def test_stream_without_a_finish_is_an_error(adapter: OpenAIAdapter, emu: ProviderEmulator) -> None:
    stream = wire.openai_chunks(["cut ", "short"])
    emu.enqueue("openai", dataclasses.replace(stream, events=stream.events[:-1]))  # [DONE] kept
    chunks, error = collect(adapter.stream(MODEL, ask(("user", "Hi"))))
    assert text_of(chunks) == "cut short"
    assert isinstance(error, ProviderUnavailableError)
    assert "ended early" in str(error)


def slow_stream() -> SSEReply:
    return dataclasses.replace(wire.openai_chunks([f"w{i} " for i in range(60)]), delay=0.1)


def test_closing_the_stream_early_closes_the_response(
    adapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", slow_stream())
    started = time.monotonic()
    chunks = adapter.stream(MODEL, ask(("user", "Hi")))
    assert next(chunks).delta == "w0 "
    chunks.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 4  # the whole stream takes over 6 s
    assert adapter.chat(MODEL, ask(("user", "after"))).content == "echo: after"


async def test_closing_the_stream_early_async(
    aadapter: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", slow_stream())
    started = time.monotonic()
    async with contextlib.aclosing(aadapter.astream(MODEL, ask(("user", "Hi")))) as chunks:  # type: ignore[type-var]
        async for chunk in chunks:
            assert chunk.delta == "w0 "
            break
    assert time.monotonic() - started < 4
    assert (await aadapter.achat(MODEL, ask(("user", "after")))).content == "echo: after"


def test_stream_through_the_container(container: Container) -> None:
    client = container.chat_client()
    assert client.capabilities.streaming
    chunks = list(client.stream([{"role": "user", "content": "via stream"}]))
    assert text_of(chunks) == "echo: via stream"
    assert chunks[-1].finish_reason == "stop"


def test_an_unknown_unsupported_params_policy_is_a_configuration_error(
    emu: ProviderEmulator,
) -> None:
    with pytest.raises(ConfigurationError, match="LLM_UNSUPPORTED_PARAMS"):
        make_adapter(emu, unsupported_params="ignore")
