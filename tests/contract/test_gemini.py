"""The Gemini adapter through the real google-genai SDK and real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from dependency_injector import providers

from persona_llm.containers import Container
from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.providers import build_adapter as build_any_adapter
from persona_llm.providers.gemini.adapter import GeminiAdapter, sync_client
from persona_llm.settings import ProviderConfig, load_settings
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply, SSEReply
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest, ToolCall, Usage

KEY = "AIzaSyD-test-key-0123456789abcdefghij"
MODEL = "gemini-2.5-flash"
EMBED_MODEL = "gemini-embedding-001"
CHAT_PATH = f"/v1beta/models/{MODEL}:generateContent"


# Building a google-genai client costs ~0.1 s (it loads CA bundles), so tests share one
# adapter and run their coroutines on one event loop (one asyncio client) where they can.
shared_loop = pytest.mark.asyncio(loop_scope="module")


def make_config(base_url: str, **overrides: Any) -> ProviderConfig:
    fields: dict[str, Any] = {
        "name": "gemini",
        "api_key": KEY,
        "base_url": base_url,
        "timeout": 5,
        "connect_timeout": 2,
    }
    return ProviderConfig(**(fields | overrides))


def build_adapter(config: ProviderConfig, embed_batch_size: int = 100) -> GeminiAdapter:
    return cast(GeminiAdapter, build_any_adapter(config, embed_batch_size=embed_batch_size))


@pytest.fixture(scope="module")
def shared_adapter(emulator: ProviderEmulator) -> Iterator[GeminiAdapter]:
    adapter = build_adapter(make_config(emulator.gemini_base_url))
    yield adapter
    adapter.close()


@pytest.fixture
def adapter(shared_adapter: GeminiAdapter, emu: ProviderEmulator) -> GeminiAdapter:
    return shared_adapter


MakeAdapter = Callable[..., GeminiAdapter]


@pytest.fixture
def make_adapter(emu: ProviderEmulator) -> Iterator[MakeAdapter]:
    built: list[GeminiAdapter] = []

    def make(embed_batch_size: int = 100, **overrides: Any) -> GeminiAdapter:
        base_url = overrides.pop("base_url", emu.gemini_base_url)
        adapter = build_adapter(make_config(base_url, **overrides), embed_batch_size)
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


def chat_request(*messages: tuple[str, str], **fields: Any) -> ChatRequest:
    pairs = messages or (("user", "Hello"),)
    return ChatRequest(
        messages=tuple(ChatMessage(role=role, content=text) for role, text in pairs),  # type: ignore[arg-type]
        **fields,
    )


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- plain chat ------------------------------------------------------------------------------


def test_plain_text(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    response = adapter.chat(MODEL, chat_request(("user", "ping")))
    assert response.content == "echo: ping"
    assert (response.provider, response.model, response.finish_reason) == ("gemini", MODEL, "stop")
    sent = emu.last_request("gemini")
    assert (sent.method, sent.path) == ("POST", CHAT_PATH)
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "ping"}]}]


@shared_loop
async def test_plain_text_async(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    response = await adapter.achat(MODEL, chat_request(("user", "ping")))
    assert response.content == "echo: ping"
    assert response.finish_reason == "stop"
    assert emu.last_request("gemini").path == CHAT_PATH


def test_unset_options_are_not_sent(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    adapter.chat(MODEL, chat_request())
    body = emu.last_request("gemini").json
    assert body.get("generationConfig", {}) == {}  # the SDK sends an empty one
    assert "systemInstruction" not in body


def test_set_options_are_sent(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    adapter.chat(
        MODEL,
        chat_request(temperature=0.0, stop=("END",), options={"top_p": 0.5, "seed": 3}),
    )
    config = emu.last_request("gemini").json["generationConfig"]
    assert config == {"temperature": 0.0, "stopSequences": ["END"], "topP": 0.5, "seed": 3}


def test_an_unknown_option_is_an_invalid_request_without_a_call(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    with pytest.raises(InvalidRequestError, match="not_a_gemini_option"):
        adapter.chat(MODEL, chat_request(options={"not_a_gemini_option": 1}))
    assert emu.request_count == 0


# -- system prompt and roles -----------------------------------------------------------------


def test_system_prompt_goes_to_system_instruction(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(
        MODEL, chat_request(("system", "Be brief."), ("user", "Hi"), ("system", "No emoji."))
    )
    body = emu.last_request("gemini").json
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief.\n\nNo emoji."}]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


@shared_loop
async def test_system_prompt_goes_to_system_instruction_async(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    await adapter.achat(MODEL, chat_request(("system", "Be brief."), ("user", "Hi")))
    body = emu.last_request("gemini").json
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert all(content["role"] != "system" for content in body["contents"])


def test_multi_turn_roles_alternate(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    response = adapter.chat(
        MODEL,
        chat_request(("user", "Q1"), ("assistant", "A1"), ("user", "Q2a"), ("user", "Q2b")),
    )
    assert emu.last_request("gemini").json["contents"] == [
        {"role": "user", "parts": [{"text": "Q1"}]},
        {"role": "model", "parts": [{"text": "A1"}]},
        {"role": "user", "parts": [{"text": "Q2a"}, {"text": "Q2b"}]},
    ]
    assert response.content == "echo: Q2aQ2b"  # the emulator echoes the last user turn's text


@shared_loop
async def test_multi_turn_roles_alternate_async(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    await adapter.achat(MODEL, chat_request(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")))
    roles = [content["role"] for content in emu.last_request("gemini").json["contents"]]
    assert roles == ["user", "model", "user"]


# -- finish reasons and usage ----------------------------------------------------------------


def test_max_tokens_finish_is_length(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini",
        Reply(
            wire.gemini_response(
                finish_reason="MAX_TOKENS", no_parts=True, candidates_tokens=0, thoughts_tokens=16
            )
        ),
    )
    response = adapter.chat(MODEL, chat_request(max_tokens=16))
    assert (response.content, response.finish_reason) == ("", "length")
    assert emu.last_request("gemini").json["generationConfig"] == {"maxOutputTokens": 16}


@shared_loop
async def test_max_tokens_finish_is_length_async(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_response("Once upon a", finish_reason="MAX_TOKENS")))
    response = await adapter.achat(MODEL, chat_request(max_tokens=3))
    assert (response.content, response.finish_reason) == ("Once upon a", "length")


@pytest.mark.parametrize(
    ("reply", "content", "finish"),
    [
        (wire.gemini_response(finish_reason="SAFETY", no_content=True), "", "content_filter"),
        (wire.gemini_response("partial", finish_reason="RECITATION"), "partial", "content_filter"),
        (wire.gemini_response("x", finish_reason="OTHER"), "x", "other"),
        (wire.gemini_response("x", finish_reason="MALFORMED_FUNCTION_CALL"), "x", "other"),
    ],
)
def test_finish_reason_normalization(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, content: str, finish: str
) -> None:
    emu.enqueue("gemini", Reply(reply))
    response = adapter.chat(MODEL, chat_request())
    assert (response.content, response.finish_reason) == (content, finish)


def test_function_calls_are_tool_calls(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini",
        Reply(
            wire.gemini_response(
                [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                        "thoughtSignature": "c2ln",
                    }
                ]
            )
        ),
    )
    response = adapter.chat(MODEL, chat_request())
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [
        ToolCall(id="call_0_get_weather", name="get_weather", arguments={"city": "Oslo"})
    ]


def test_thought_parts_are_not_reply_text(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini",
        Reply(wire.gemini_response([{"text": "hmm...", "thought": True}, "The answer", " is 4."])),
    )
    assert adapter.chat(MODEL, chat_request()).content == "The answer is 4."


def test_usage_normalization(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    body = wire.gemini_response("x", prompt_tokens=11, candidates_tokens=7, thoughts_tokens=20)
    body["usageMetadata"]["cachedContentTokenCount"] = 4
    emu.enqueue("gemini", Reply(body))
    assert adapter.chat(MODEL, chat_request()).usage == Usage(
        prompt_tokens=11,
        completion_tokens=27,
        total_tokens=38,
        reasoning_tokens=20,
        cached_tokens=4,
    )


@shared_loop
async def test_usage_normalization_async(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini",
        Reply(
            wire.gemini_response(
                finish_reason="MAX_TOKENS",
                no_parts=True,
                prompt_tokens=5,
                candidates_tokens=0,
                thoughts_tokens=9,
            )
        ),
    )
    usage = (await adapter.achat(MODEL, chat_request())).usage
    assert usage == Usage(prompt_tokens=5, completion_tokens=9, total_tokens=14, reasoning_tokens=9)


def test_a_blocked_prompt_is_a_content_filter_error(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "gemini",
        Reply(
            {
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
                "modelVersion": MODEL,
                "responseId": "r1",
            }
        ),
    )
    with pytest.raises(ContentFilterError, match="blockReason SAFETY") as caught:
        adapter.chat(MODEL, chat_request())
    assert (caught.value.provider, caught.value.model) == ("gemini", MODEL)


# -- JSON mode -------------------------------------------------------------------------------


def test_json_object_mode(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_response('{"answer": 42}')))
    response = adapter.chat(MODEL, chat_request(response_format={"type": "json_object"}))
    assert response.content == '{"answer": 42}'
    config = emu.last_request("gemini").json["generationConfig"]
    assert config == {"responseMimeType": "application/json"}


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


def test_json_schema_mode_sends_the_schema(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_response('{"name": "Ada"}')))
    response = adapter.chat(
        MODEL,
        chat_request(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": SCHEMA},
            }
        ),
    )
    assert response.content == '{"name": "Ada"}'
    config = emu.last_request("gemini").json["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}


@shared_loop
async def test_json_mode_async(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_response("[1, 2]")))
    response = await adapter.achat(MODEL, chat_request(response_format={"type": "json_object"}))
    assert response.content == "[1, 2]"
    assert emu.last_request("gemini").json["generationConfig"]["responseMimeType"] == (
        "application/json"
    )


# -- embeddings ------------------------------------------------------------------------------


def test_embeddings(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    texts = ["alpha", "beta", "gamma"]
    assert adapter.embeddings(EMBED_MODEL, texts, {}) == [wire.fake_vector(t) for t in texts]
    sent = emu.last_request("gemini")
    assert sent.path == f"/v1beta/models/{EMBED_MODEL}:batchEmbedContents"
    assert [r["content"]["parts"] for r in sent.json["requests"]] == [[{"text": t}] for t in texts]


def test_embeddings_are_batched_in_order(make_adapter: MakeAdapter, emu: ProviderEmulator) -> None:
    adapter = make_adapter(embed_batch_size=2)
    texts = [f"text {i}" for i in range(5)]
    assert adapter.embeddings(EMBED_MODEL, texts, {}) == [wire.fake_vector(t) for t in texts]
    sizes = [len(r.json["requests"]) for r in emu.requests_for("gemini")]
    assert sizes == [2, 2, 1]


@shared_loop
async def test_embeddings_are_batched_in_order_async(
    make_adapter: MakeAdapter, emu: ProviderEmulator
) -> None:
    adapter = make_adapter(embed_batch_size=2)
    texts = ["one", "two", "three"]
    assert await adapter.aembeddings(EMBED_MODEL, texts, {}) == [wire.fake_vector(t) for t in texts]
    assert emu.request_count == 2


def test_embedding_dimensions_and_task_type(
    make_adapter: MakeAdapter, emu: ProviderEmulator
) -> None:
    adapter = make_adapter(embedding_dimensions=16)
    vectors = adapter.embeddings(EMBED_MODEL, ["a"], {"task_type": "RETRIEVAL_DOCUMENT"})
    assert vectors == [wire.fake_vector("a", 16)]
    request = emu.last_request("gemini").json["requests"][0]
    assert (request["outputDimensionality"], request["taskType"]) == (16, "RETRIEVAL_DOCUMENT")
    adapter.embeddings(EMBED_MODEL, ["a"], {"dimensions": 4})
    assert emu.last_request("gemini").json["requests"][0]["outputDimensionality"] == 4


def test_a_short_embedding_reply_is_malformed(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_embeddings([[0.5, 0.5]])))
    with pytest.raises(ProviderUnavailableError, match="malformed reply"):
        adapter.embeddings(EMBED_MODEL, ["a", "b"], {})


# -- status errors ---------------------------------------------------------------------------

STATUS_ERRORS = [
    pytest.param(
        Reply(
            wire.gemini_error(
                400,
                "API key not valid. Please pass a valid API key.",
                "INVALID_ARGUMENT",
                "API_KEY_INVALID",
            ),
            status=400,
        ),
        AuthenticationError,
        400,
        id="400-api-key-invalid",
    ),
    pytest.param(
        Reply(
            wire.gemini_error(
                401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
            ),
            status=401,
        ),
        AuthenticationError,
        401,
        id="401",
    ),
    pytest.param(
        Reply(
            wire.gemini_error(
                403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED"
            ),
            status=403,
        ),
        PermissionDeniedError,
        403,
        id="403",
    ),
    pytest.param(
        Reply(
            wire.gemini_error(404, "models/nope is not found for API version v1beta", "NOT_FOUND"),
            status=404,
        ),
        NotFoundError,
        404,
        id="404",
    ),
    pytest.param(
        Reply(
            wire.gemini_error(
                400, "Invalid value at 'generation_config.temperature'", "INVALID_ARGUMENT"
            ),
            status=400,
        ),
        InvalidRequestError,
        400,
        id="400",
    ),
    pytest.param(
        Reply(wire.gemini_error(500, "An internal error has occurred.", "INTERNAL"), status=500),
        ProviderUnavailableError,
        500,
        id="500",
    ),
    pytest.param(
        Reply(wire.gemini_error(503, "The model is overloaded.", "UNAVAILABLE"), status=503),
        ProviderUnavailableError,
        503,
        id="503",
    ),
    pytest.param(
        Fault(
            503,
            b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>",
            content_type="text/html",
        ),
        ProviderUnavailableError,
        503,
        id="503-html",
    ),
    pytest.param(
        Fault(502, b"upstream connect error", content_type="text/plain"),
        ProviderUnavailableError,
        502,
        id="502-text",
    ),
]


def check_error(error: LLMError, kind: type[LLMError], status: int) -> None:
    assert type(error) is kind
    assert (error.provider, error.model, error.status_code) == ("gemini", MODEL, status)
    assert error.__cause__ is not None  # chained to the SDK's exception


@pytest.mark.parametrize(("reply", "kind", "status"), STATUS_ERRORS)
def test_status_errors(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError], status: int
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        adapter.chat(MODEL, chat_request())
    check_error(caught.value, kind, status)


@pytest.mark.parametrize(("reply", "kind", "status"), STATUS_ERRORS)
@shared_loop
async def test_status_errors_async(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError], status: int
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        await adapter.achat(MODEL, chat_request())
    check_error(caught.value, kind, status)


def test_html_error_page_is_not_quoted(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini", Fault(503, b"<html><body>Service down</body></html>", content_type="text/html")
    )
    with pytest.raises(ProviderUnavailableError, match="HTML page") as caught:
        adapter.chat(MODEL, chat_request())
    assert "<html" not in str(caught.value)
    assert caught.value.retryable


def test_rate_limit_reads_retry_info(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    body = wire.gemini_error(429, "You exceeded your current quota.", "RESOURCE_EXHAUSTED")
    body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    ]
    emu.enqueue("gemini", Reply(body, status=429))
    with pytest.raises(RateLimitError) as caught:
        adapter.chat(MODEL, chat_request())
    assert caught.value.retry_after == 37.0
    assert caught.value.retryable
    assert caught.value.status_code == 429


@shared_loop
async def test_rate_limit_reads_retry_after_header_async(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    body = wire.gemini_error(429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED")
    emu.enqueue("gemini", Reply(body, status=429, headers={"Retry-After": "2"}))
    with pytest.raises(RateLimitError) as caught:
        await adapter.achat(MODEL, chat_request())
    assert caught.value.retry_after == 2.0


def test_embedding_errors_are_translated(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", Reply(wire.gemini_error(404, "model not found", "NOT_FOUND"), status=404))
    with pytest.raises(NotFoundError) as caught:
        adapter.embeddings("nope", ["a"], {})
    assert (caught.value.model, caught.value.status_code) == ("nope", 404)


# -- transport errors ------------------------------------------------------------------------


def test_timeout(make_adapter: MakeAdapter, emu: ProviderEmulator) -> None:
    adapter = make_adapter(timeout=0.2)
    emu.enqueue("gemini", Reply(wire.gemini_response("late"), delay=2.0))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as caught:
        adapter.chat(MODEL, chat_request())
    assert time.monotonic() - started < 1.5
    assert (caught.value.provider, caught.value.model) == ("gemini", MODEL)
    assert caught.value.retryable


@shared_loop
async def test_timeout_async(make_adapter: MakeAdapter, emu: ProviderEmulator) -> None:
    adapter = make_adapter(timeout=0.2)
    emu.enqueue("gemini", Reply(wire.gemini_response("late"), delay=2.0))
    with pytest.raises(LLMTimeoutError):
        await adapter.achat(MODEL, chat_request())


@pytest.mark.parametrize("mode", ["before", "mid_body"])
def test_dropped_connection(adapter: GeminiAdapter, emu: ProviderEmulator, mode: str) -> None:
    emu.enqueue(
        "gemini",
        Fault(200, b'{"candidates": []}', content_type="application/json", drop_connection=mode),
    )  # type: ignore[arg-type]
    with pytest.raises(APIConnectionError) as caught:
        adapter.chat(MODEL, chat_request())
    assert (caught.value.provider, caught.value.model) == ("gemini", MODEL)


@pytest.mark.parametrize("mode", ["before", "mid_body"])
@shared_loop
async def test_dropped_connection_async(
    adapter: GeminiAdapter, emu: ProviderEmulator, mode: str
) -> None:
    emu.enqueue(
        "gemini",
        Fault(200, b'{"candidates": []}', content_type="application/json", drop_connection=mode),
    )  # type: ignore[arg-type]
    with pytest.raises(APIConnectionError):
        await adapter.achat(MODEL, chat_request())


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def test_connection_refused(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter(base_url=closed_port_url())
    with pytest.raises(APIConnectionError, match=r"connection to http://127\.0\.0\.1"):
        adapter.chat(MODEL, chat_request())


@shared_loop
async def test_connection_refused_async(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter(base_url=closed_port_url())
    with pytest.raises(APIConnectionError):
        await adapter.aembeddings(EMBED_MODEL, ["a"], {})


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b"<html><body>Welcome to the captive portal</body></html>",
        b'{"candidates": [{"content": {"parts": "not a list"}}]}',
        b'{"candidates": [{"finishReason": 5}]}',
    ],
    ids=["not-json", "html-page", "wrong-type", "wrong-enum-type"],
)
def test_a_malformed_reply_is_provider_unavailable(
    adapter: GeminiAdapter, emu: ProviderEmulator, body: bytes
) -> None:
    emu.enqueue("gemini", Reply(body))
    with pytest.raises(ProviderUnavailableError, match="malformed reply") as caught:
        adapter.chat(MODEL, chat_request())
    assert caught.value.provider == "gemini"
    assert caught.value.__cause__ is not None


# -- retries ---------------------------------------------------------------------------------


def test_no_retries_means_one_request(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", Fault(503), Fault(503))
    with pytest.raises(ProviderUnavailableError):
        adapter.chat(MODEL, chat_request())
    assert emu.request_count == 1


def test_the_sdk_never_retries_itself(make_adapter: MakeAdapter, emu: ProviderEmulator) -> None:
    adapter = make_adapter()
    emu.enqueue("gemini", Fault(503), Fault(503), Fault(503))
    with pytest.raises(ProviderUnavailableError):
        adapter.chat(MODEL, chat_request())
    assert emu.request_count == 1  # retries are persona_llm.reliability's, not multiplied


# -- the key stays secret --------------------------------------------------------------------


def test_the_key_goes_in_a_header_never_the_url(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(MODEL, chat_request())
    adapter.embeddings(EMBED_MODEL, ["a"], {})
    for sent in emu.requests_for("gemini"):
        assert sent.headers["x-goog-api-key"] == KEY
        assert "key" not in sent.query
        assert KEY not in sent.path
        assert "authorization" not in sent.headers


ECHOING_ERRORS = [
    Reply(
        wire.gemini_error(400, f"API key not valid: {KEY}", "INVALID_ARGUMENT", "API_KEY_INVALID"),
        status=400,
    ),
    Reply(
        {
            "error": {
                "code": 403,
                "message": f"key {KEY} denied",
                "status": "PERMISSION_DENIED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_SERVICE_BLOCKED",
                        "metadata": {"key": KEY},
                    }
                ],
            }
        },
        status=403,
    ),
    Fault(503, f"<html><body>bad key {KEY}</body></html>".encode(), content_type="text/html"),
    Fault(500, f"upstream said key={KEY}".encode()),
]


def assert_no_key(error: BaseException) -> None:
    texts = [str(error), repr(error)]
    cause = error.__cause__
    while cause is not None:
        texts += [str(cause), repr(cause), str(getattr(cause, "details", "")), str(cause.args)]
        cause = cause.__cause__ or cause.__context__
    for text in texts:
        assert KEY not in text
        assert KEY[:20] not in text


@pytest.mark.parametrize("reply", ECHOING_ERRORS)
def test_the_key_never_appears_in_errors(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        adapter.chat(MODEL, chat_request())
    assert_no_key(caught.value)


@pytest.mark.parametrize("reply", ECHOING_ERRORS)
@shared_loop
async def test_the_key_never_appears_in_errors_async(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        await adapter.achat(MODEL, chat_request())
    assert_no_key(caught.value)


def test_the_key_never_appears_in_reprs(adapter: GeminiAdapter) -> None:
    assert KEY not in repr(adapter)
    assert KEY not in repr(adapter.config)


# -- clients and event loops -----------------------------------------------------------------


def test_successive_asyncio_runs_each_get_a_working_client(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    response = run(adapter.achat(MODEL, chat_request(("user", "first run"))))
    assert response.content == "echo: first run"
    assert run(adapter.aembeddings(EMBED_MODEL, ["x"], {})) == [wire.fake_vector("x")]


def test_each_event_loop_gets_its_own_async_client(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter()

    async def client_id() -> int:
        await adapter.achat(MODEL, chat_request())
        return id(adapter._async.get())

    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(client_id())
        assert loop.run_until_complete(client_id()) == first
        assert run(client_id()) != first
    finally:
        adapter.close()  # closes the idle loop's client inside that loop
        loop.close()


@shared_loop
async def test_close_inside_a_running_loop(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter()
    await adapter.achat(MODEL, chat_request())
    before = adapter._async.get()
    adapter.close()
    await asyncio.sleep(0.01)  # the scheduled close runs
    assert (await adapter.achat(MODEL, chat_request())).content == "echo: Hello"
    assert adapter._async.get() is not before  # a fresh client after close()


@shared_loop
async def test_aclose_waits_for_the_running_loops_client(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter()
    await adapter.achat(MODEL, chat_request())
    await adapter.aclose()
    assert adapter._async.items() == []
    assert (await adapter.achat(MODEL, chat_request())).content == "echo: Hello"


def test_an_option_the_sdk_refuses_is_an_invalid_request(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    # Valid for the SDK's config model, refused while building a Gemini API request.
    options = {"routing_config": {"auto_mode": {"model_routing_preference": "BALANCED"}}}
    with pytest.raises(InvalidRequestError, match="rejected the request") as caught:
        adapter.chat(MODEL, chat_request(options=options))
    assert emu.request_count == 0
    assert caught.value.__cause__ is not None


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        sync_client(ProviderConfig(name="gemini", api_key=None))


# -- through the container -------------------------------------------------------------------


def test_through_the_container(emu: ProviderEmulator) -> None:
    container = Container()
    container.settings.override(
        providers.Object(
            load_settings(
                llm_service=f"gemini/{MODEL}",
                gemini_api_key=KEY,
                gemini_base_url=emu.gemini_base_url,
                llm_max_retries=0,
            )
        )
    )
    try:
        reply = container.chat_client().chat([{"role": "user", "content": "via container"}])
        assert (reply.content, reply.provider) == ("echo: via container", "gemini")
        vectors = container.embedding_client().embeddings(["v"])
        assert vectors == [wire.fake_vector("v")]
        assert (
            emu.requests_for("gemini")[-1].path
            == f"/v1beta/models/{EMBED_MODEL}:batchEmbedContents"
        )
    finally:
        container.reset_singletons()


@shared_loop
async def test_through_the_container_async(emu: ProviderEmulator) -> None:
    settings = load_settings(
        llm_service="gemini/", gemini_api_key=KEY, gemini_base_url=emu.gemini_base_url
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    try:
        reply = await container.async_chat_client().chat([{"role": "user", "content": "hi"}])
        assert reply.content == "echo: hi"
        assert emu.last_request("gemini").model == settings.gemini_chat_model  # the default
    finally:
        container.reset_singletons()


def test_gemini_base_url_from_the_environment(
    emu: ProviderEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_SERVICE", "gemini/gemini-2.5-pro")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", emu.gemini_base_url)
    container = Container()
    try:
        assert (
            container.chat_client().chat([{"role": "user", "content": "env"}]).content
            == "echo: env"
        )
        sent = emu.last_request("gemini")
        assert (sent.model, sent.headers["x-goog-api-key"]) == ("gemini-2.5-pro", KEY)
    finally:
        container.reset_singletons()


# -- streaming -------------------------------------------------------------------------------

STREAM_PATH = f"/v1beta/models/{MODEL}:streamGenerateContent"


def two_piece_stream(**fields: Any) -> SSEReply:
    return wire.gemini_events(["Hello, ", "world"], **fields)


def check_streamed_text(chunks: list[ChatChunk], sent: Any) -> None:
    assert [c.delta for c in chunks] == ["Hello, ", "world"]
    assert [c.finish_reason for c in chunks] == [None, "stop"]
    assert chunks[0].usage is None
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    assert (sent.path, sent.query, sent.kind) == (STREAM_PATH, {"alt": "sse"}, "stream")
    assert sent.headers["x-goog-api-key"] == KEY


def test_the_adapter_says_it_streams(adapter: GeminiAdapter) -> None:
    assert adapter.capabilities.streaming


def test_streamed_text(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", two_piece_stream(prompt_tokens=3, candidates_tokens=2))
    chunks = list(adapter.stream(MODEL, chat_request(("system", "S"), ("user", "U"))))
    sent = emu.last_request("gemini")
    check_streamed_text(chunks, sent)
    assert sent.json["systemInstruction"]["parts"] == [{"text": "S"}]


@shared_loop
async def test_streamed_text_async(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", two_piece_stream(prompt_tokens=3, candidates_tokens=2))
    chunks = [chunk async for chunk in adapter.astream(MODEL, chat_request())]
    check_streamed_text(chunks, emu.last_request("gemini"))


def test_streamed_default_reply_through_the_container(emu: ProviderEmulator) -> None:
    container = Container()
    container.settings.override(
        providers.Object(
            load_settings(
                llm_service=f"gemini/{MODEL}",
                gemini_api_key=KEY,
                gemini_base_url=emu.gemini_base_url,
            )
        )
    )
    try:
        chunks = list(container.chat_client().stream([{"role": "user", "content": "a b c"}]))
        assert "".join(c.delta for c in chunks) == "echo: a b c"
        assert chunks[-1].finish_reason == "stop"
    finally:
        container.reset_singletons()


def test_streamed_finish_by_length(adapter: GeminiAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("gemini", two_piece_stream(finish_reason="MAX_TOKENS", thoughts_tokens=4))
    chunks = list(adapter.stream(MODEL, chat_request(max_tokens=2)))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.reasoning_tokens == 4
    assert emu.last_request("gemini").json["generationConfig"] == {"maxOutputTokens": 2}


@shared_loop
async def test_streamed_finish_by_length_async(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("gemini", two_piece_stream(finish_reason="MAX_TOKENS"))
    chunks = [chunk async for chunk in adapter.astream(MODEL, chat_request(max_tokens=2))]
    assert [c.finish_reason for c in chunks] == [None, "length"]


def test_stream_options_are_checked_before_any_request(
    adapter: GeminiAdapter, emu: ProviderEmulator
) -> None:
    with pytest.raises(InvalidRequestError):
        adapter.stream(MODEL, chat_request(options={"bogus": True}))
    with pytest.raises(InvalidRequestError):
        adapter.astream(MODEL, chat_request(options={"bogus": True}))
    assert emu.request_count == 0


STREAM_ERRORS_BEFORE = [
    pytest.param(
        # A failing stream request gets a JSON error, which can come labelled as a stream.
        Reply(
            wire.gemini_error(
                400, f"API key not valid: {KEY}", "INVALID_ARGUMENT", "API_KEY_INVALID"
            ),
            status=400,
            content_type="text/event-stream",
        ),
        AuthenticationError,
        id="400-api-key-invalid",
    ),
    pytest.param(
        Reply(wire.gemini_error(429, "Resource exhausted", "RESOURCE_EXHAUSTED"), status=429),
        RateLimitError,
        id="429",
    ),
    pytest.param(
        Fault(503, b"<html><body>unavailable</body></html>", content_type="text/html"),
        ProviderUnavailableError,
        id="503-html",
    ),
]


@pytest.mark.parametrize(("reply", "kind"), STREAM_ERRORS_BEFORE)
def test_stream_error_before_the_stream(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError]
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        list(adapter.stream(MODEL, chat_request()))
    assert type(caught.value) is kind
    assert_no_key(caught.value)


@shared_loop
@pytest.mark.parametrize(("reply", "kind"), STREAM_ERRORS_BEFORE)
async def test_stream_error_before_the_stream_async(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError]
) -> None:
    emu.enqueue("gemini", reply)
    with pytest.raises(LLMError) as caught:
        async for _ in adapter.astream(MODEL, chat_request()):
            pass
    assert type(caught.value) is kind
    assert_no_key(caught.value)


def broken_streams() -> list[Any]:
    events = two_piece_stream().events
    first = events[0]
    error = wire.gemini_error(503, "The model is overloaded.", "UNAVAILABLE")
    return [
        pytest.param(
            SSEReply([first, error], separator="\r\n\r\n"),
            ProviderUnavailableError,
            "UNAVAILABLE",
            id="error-event",
        ),
        pytest.param(
            SSEReply(events, separator="\r\n\r\n", drop_after=1),
            APIConnectionError,
            "dropped",
            id="dropped-connection",
        ),
        pytest.param(
            SSEReply([first], separator="\r\n\r\n"),
            ProviderUnavailableError,
            "ended early",
            id="no-finish",
        ),
    ]


@pytest.mark.parametrize(("reply", "kind", "match"), broken_streams())
def test_stream_broken_midway(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError], match: str
) -> None:
    emu.enqueue("gemini", reply)
    received: list[ChatChunk] = []
    with pytest.raises(kind, match=match) as caught:
        for chunk in adapter.stream(MODEL, chat_request()):
            received.append(chunk)
    assert [c.delta for c in received] == ["Hello, "]  # what arrived was yielded first
    assert (caught.value.provider, caught.value.model) == ("gemini", MODEL)


@shared_loop
@pytest.mark.parametrize(("reply", "kind", "match"), broken_streams())
async def test_stream_broken_midway_async(
    adapter: GeminiAdapter, emu: ProviderEmulator, reply: Any, kind: type[LLMError], match: str
) -> None:
    emu.enqueue("gemini", reply)
    received: list[ChatChunk] = []
    with pytest.raises(kind, match=match):
        async for chunk in adapter.astream(MODEL, chat_request()):
            received.append(chunk)
    assert [c.delta for c in received] == ["Hello, "]


class HangingStream:
    """A one-shot server: one streamed event, then it waits to see the client hang up.

    The emulator cannot tell when a client closes its connection; this server can.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with self._listener, self._listener.accept()[0] as connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            head, _, body = received.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += connection.recv(65536)
            event = f"data: {json.dumps(two_piece_stream().events[0])}\r\n\r\n".encode()
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n%X\r\n%s\r\n" % (len(event), event)
            )
            connection.settimeout(5)
            with contextlib.suppress(OSError):
                connection.recv(1)  # b"" (or a reset) once the client closes its side
            self.hung_up.set()

    def client_hung_up(self) -> bool:
        return self.hung_up.wait(3)


@pytest.mark.parametrize("how", ["close", "break"])
def test_stream_closed_early_closes_the_response(make_adapter: MakeAdapter, how: str) -> None:
    server = HangingStream()
    adapter = make_adapter(base_url=server.url)
    chunks = adapter.stream(MODEL, chat_request())
    if how == "close":
        assert next(chunks).delta == "Hello, "
        chunks.close()  # type: ignore[attr-defined]
    else:
        for chunk in chunks:
            assert chunk.delta == "Hello, "
            break
        del chunks
    assert server.client_hung_up()


@pytest.mark.parametrize("how", ["aclose", "break"])
async def test_stream_closed_early_closes_the_response_async(
    make_adapter: MakeAdapter, how: str
) -> None:
    server = HangingStream()
    adapter = make_adapter(base_url=server.url)
    chunks = adapter.astream(MODEL, chat_request())
    if how == "aclose":
        assert (await anext(chunks)).delta == "Hello, "
        await chunks.aclose()  # type: ignore[attr-defined]
    else:
        async for chunk in chunks:
            assert chunk.delta == "Hello, "
            break
        del chunks  # the event loop finalizes the abandoned generator
    assert await asyncio.to_thread(server.client_hung_up)



def test_aiohttp_is_installed_so_the_asyncio_tests_run_where_google_genai_would_use_it() -> None:
    """google-genai sends asyncio calls through aiohttp whenever it is importable, unless it
    is given a transport; the adapter gives it httpx2's. aiohttp is in the test extra so that
    every asyncio test in this module (400 details, stream cleanup, connection errors) would
    fail if the adapter let the SDK switch, as it did before."""
    import aiohttp

    assert aiohttp.ClientSession is not None
