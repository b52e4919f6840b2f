"""The provider emulator, exercised through the real SDKs over loopback HTTP.

Each route must answer in a shape the official SDK parses; faults are checked
with raw ``urllib``/``http.client`` so the wire bytes themselves are asserted.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types import Message
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import ChatCompletion

from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, RecordedRequest, Reply, SSEReply

CLAUDE = "claude-haiku-4-5"  # the SDK warns on deprecated names such as claude-sonnet-4-5
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def oai(emulator: ProviderEmulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emulator.openai_base_url, api_key="sk-test", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def azure(emulator: ProviderEmulator) -> Iterator[openai.AzureOpenAI]:
    with openai.AzureOpenAI(
        azure_endpoint=emulator.azure_endpoint,
        api_key="az-key",
        api_version="2024-10-21",
        max_retries=0,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def claude(emulator: ProviderEmulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=emulator.anthropic_base_url, api_key="sk-ant", max_retries=0
    ) as client:
        yield client


@pytest.fixture(scope="module")
def gemini(emulator: ProviderEmulator) -> genai.Client:
    options = genai_types.HttpOptions(base_url=emulator.gemini_base_url)
    return genai.Client(api_key="g-key", http_options=options)


def post(url: str, body: Any, timeout: float = 5) -> http.client.HTTPResponse:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
    return response


# --- each route answers and the SDK parses it ---------------------------------------------------


def test_openai_chat_echoes_the_last_user_message_and_is_recorded(
    emu: ProviderEmulator, oai: openai.OpenAI
) -> None:
    messages = [{"role": "system", "content": "be brief"}, *USER]
    reply = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)

    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == 2 + 3
    seen = emu.last_request("openai")
    assert (seen.method, seen.path, seen.kind, seen.model) == (
        "POST",
        "/v1/chat/completions",
        "chat",
        "gpt-4o-mini",
    )
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.json["messages"] == messages
    assert emu.requests == [seen] and emu.request_count == 1


def test_openai_list_content_is_understood(oai: openai.OpenAI) -> None:
    content = [{"type": "text", "text": "part one"}, {"type": "text", "text": " two"}]
    reply = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": content}],
    )
    assert reply.choices[0].message.content == "echo: part one two"


def test_azure_chat_routes_by_deployment_and_carries_filter_results(
    emu: ProviderEmulator, azure: openai.AzureOpenAI
) -> None:
    reply = azure.chat.completions.create(model="chat-deploy", messages=USER)

    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.model_extra is not None and "prompt_filter_results" in reply.model_extra
    seen = emu.last_request("azure")
    assert seen.path == "/openai/deployments/chat-deploy/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}
    assert seen.model == "chat-deploy"
    assert seen.headers["api-key"] == "az-key"


def test_azure_v1_surface_counts_as_azure(emu: ProviderEmulator) -> None:
    with openai.OpenAI(base_url=emu.base_url + "/openai/v1", api_key="k", max_retries=0) as client:
        reply = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert reply.choices[0].message.content == "echo: hello there"
    assert [r.model for r in emu.requests_for("azure")] == ["gpt-4o"]


def test_anthropic_message_echoes_text_blocks(
    emu: ProviderEmulator, claude: anthropic.Anthropic
) -> None:
    content = [{"type": "text", "text": "from blocks"}]
    reply = claude.messages.create(
        model=CLAUDE,
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": content}],
    )
    assert reply.content[0].type == "text" and reply.content[0].text == "echo: from blocks"
    assert reply.stop_reason == "end_turn"
    assert reply.usage.cache_read_input_tokens == 0
    assert emu.last_request("anthropic").json["system"] == "be brief"
    headers = emu.last_request().headers  # this SDK release sends a bearer token
    assert "sk-ant" in headers.get("x-api-key", headers.get("authorization", ""))


def test_gemini_generate_content_echoes_contents(
    emu: ProviderEmulator, gemini: genai.Client
) -> None:
    reply = gemini.models.generate_content(model="gemini-2.5-flash", contents="hi gemini")

    assert reply.text == "echo: hi gemini"
    assert reply.candidates and reply.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert reply.usage_metadata and reply.usage_metadata.prompt_token_count == 2
    seen = emu.last_request("gemini")
    assert seen.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert (seen.kind, seen.model) == ("chat", "gemini-2.5-flash")
    assert seen.headers["x-goog-api-key"] == "g-key"


# --- embeddings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding_format", ["sdk-default", "float"])
def test_openai_embeddings_are_fake_vectors_in_order(
    emu: ProviderEmulator, oai: openai.OpenAI, encoding_format: str
) -> None:
    # Left out, the SDK asks for base64 and decodes float32; asked for, it does not decode.
    extra: dict[str, Any] = {} if encoding_format == "sdk-default" else {"encoding_format": "float"}
    reply = oai.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], dimensions=4, **extra
    )
    assert [item.embedding for item in reply.data] == [
        wire.fake_vector("alpha", 4),
        wire.fake_vector("beta", 4),
    ]
    assert [item.index for item in reply.data] == [0, 1]
    seen = emu.last_request()
    assert seen.kind == "embeddings"
    assert seen.json["encoding_format"] == ("base64" if not extra else "float")


def test_azure_embeddings_use_the_sdk_default_base64(
    emu: ProviderEmulator, azure: openai.AzureOpenAI
) -> None:
    reply = azure.embeddings.create(model="embed-deploy", input="gamma")
    assert reply.data[0].embedding == wire.fake_vector("gamma")
    assert emu.last_request().json["encoding_format"] == "base64"
    assert emu.last_request().model == "embed-deploy"


def test_gemini_embeddings_batch_and_single(emu: ProviderEmulator, gemini: genai.Client) -> None:
    config = genai_types.EmbedContentConfig(output_dimensionality=4)
    reply = gemini.models.embed_content(
        model="gemini-embedding-001", contents=["one", "two"], config=config
    )
    assert reply.embeddings is not None
    assert [e.values for e in reply.embeddings] == [
        wire.fake_vector("one", 4),
        wire.fake_vector("two", 4),
    ]
    single = post(
        emu.base_url + "/v1beta/models/gemini-embedding-001:embedContent",
        {"content": {"parts": [{"text": "three"}]}},
    )
    assert json.load(single) == {"embedding": {"values": wire.fake_vector("three")}}


# --- streaming through each SDK's stream API ----------------------------------------------------


def test_openai_stream_ends_with_a_usage_chunk(emu: ProviderEmulator, oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "echo: one two three four"
    )
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert emu.last_request().kind == "stream"


def test_azure_stream_opens_with_an_empty_filter_chunk(azure: openai.AzureOpenAI) -> None:
    chunks = list(azure.chat.completions.create(model="dep", messages=USER, stream=True))

    assert chunks[0].choices == [] and chunks[0].id == "" and chunks[0].model == ""
    assert chunks[0].model_extra and "prompt_filter_results" in chunks[0].model_extra
    assert "".join(c.choices[0].delta.content or "" for c in chunks[1:]) == "echo: hello there"


def test_openai_stream_helper_assembles_tool_call_fragments(
    emu: ProviderEmulator, oai: openai.OpenAI
) -> None:
    calls = [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": "call_2", "name": "now", "arguments": "{}"},
    ]
    emu.enqueue("openai", wire.openai_chunks([], tool_calls=calls))
    with oai.chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        final = stream.get_final_completion()

    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    assert [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls] == [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ("call_2", "now", "{}"),
    ]


def test_anthropic_stream_default_echo(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "echo: hello there" and len(pieces) > 1
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3


def test_anthropic_stream_thinking_and_tool_use_blocks(
    emu: ProviderEmulator, claude: anthropic.Anthropic
) -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me check the weather.", "signature": "sig-abc"},
        {"type": "text", "text": "Checking now."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "toolu_2", "name": "clock", "input": {}},
    ]
    emu.enqueue("anthropic", wire.anthropic_events(blocks, stop_reason="tool_use"))
    with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        final = stream.get_final_message()

    thinking, text, weather, clock = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Let me check the weather."
    assert thinking.signature == "sig-abc"
    assert text.type == "text" and text.text == "Checking now."
    assert weather.type == "tool_use" and weather.input == {"city": "Oslo"}
    assert clock.type == "tool_use" and clock.input == {}
    assert final.stop_reason == "tool_use"


def test_anthropic_error_event_mid_stream_raises(
    emu: ProviderEmulator, claude: anthropic.Anthropic
) -> None:
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    emu.enqueue("anthropic", wire.anthropic_events("never finished text", error=overloaded))
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream,
    ):
        received.extend(stream.text_stream)
    assert received == ["never "]


def test_gemini_stream_uses_crlf_separators(emu: ProviderEmulator, gemini: genai.Client) -> None:
    replies = list(
        gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="a b c d")
    )
    assert "".join(r.text or "" for r in replies) == "echo: a b c d"
    assert replies[-1].usage_metadata and replies[-1].usage_metadata.total_token_count == 9
    assert emu.last_request().query.get("alt") == "sse"
    assert emu.last_request().kind == "stream"

    raw = post(emu.base_url + "/v1beta/models/m:streamGenerateContent?alt=sse", {"contents": []})
    body = raw.read().decode()
    assert raw.headers["Content-Type"].startswith("text/event-stream")
    assert body.count("\r\n\r\n") == len(wire.split_pieces("echo: ")) and "[DONE]" not in body


# --- queueing and recording ---------------------------------------------------------------------


def test_queue_is_fifo_per_provider_and_accepts_callables(
    emu: ProviderEmulator, oai: openai.OpenAI
) -> None:
    def shout(request: RecordedRequest) -> Reply:
        return Reply(wire.openai_chat(request.json["messages"][-1]["content"].upper()))

    emu.enqueue("openai", Reply(wire.openai_chat("first")), shout)
    emu.enqueue("anthropic", Reply(wire.anthropic_message("not for openai")))
    texts = [
        oai.chat.completions.create(model="m", messages=USER).choices[0].message.content
        for _ in range(3)
    ]
    assert texts == ["first", "HELLO THERE", "echo: hello there"]
    assert emu.pending("anthropic") == 1

    emu.reset()
    assert emu.requests == [] and emu.request_count == 0 and emu.pending("anthropic") == 0
    with pytest.raises(AssertionError, match="no request for provider 'gemini'"):
        emu.last_request("gemini")


def test_unknown_route_is_a_404_naming_the_path(emu: ProviderEmulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        post(emu.base_url + "/v2/nothing-here", {})
    assert caught.value.code == 404
    assert "/v2/nothing-here" in json.load(caught.value)["error"]["message"]
    assert emu.requests == []


# --- faults -------------------------------------------------------------------------------------


def test_fault_sends_status_body_and_headers(emu: ProviderEmulator) -> None:
    emu.enqueue(
        "openai",
        Fault(
            429,
            wire.openai_error("Slow down", code="rate_limit_exceeded"),
            headers={"Retry-After": "7"},
        ),
    )
    emu.enqueue("anthropic", Fault(503, "upstream connect error", delay=0.05))
    with pytest.raises(urllib.error.HTTPError) as limited:
        post(emu.openai_base_url + "/chat/completions", {"model": "m", "messages": []})
    assert limited.value.code == 429 and limited.value.headers["Retry-After"] == "7"
    assert limited.value.headers["Content-Type"] == "application/json"
    assert json.load(limited.value)["error"]["code"] == "rate_limit_exceeded"

    with pytest.raises(urllib.error.HTTPError) as gateway:
        post(emu.base_url + "/v1/messages", {"model": "m", "messages": []})
    assert gateway.value.code == 503 and gateway.value.read() == b"upstream connect error"
    assert gateway.value.headers["Content-Type"] == "text/plain"
    assert emu.request_count == 2  # faulted requests are recorded too


def test_reply_without_content_type_like_azure_404(emu: ProviderEmulator) -> None:
    body = {"error": {"code": "DeploymentNotFound", "message": "The API deployment does not exist"}}
    emu.enqueue("azure", Reply(body, status=404, content_type=None))
    with pytest.raises(urllib.error.HTTPError) as caught:
        post(emu.base_url + "/openai/deployments/nope/chat/completions?api-version=x", {})
    assert "Content-Type" not in caught.value.headers
    assert json.load(caught.value) == body


@pytest.mark.parametrize(
    ("mode", "error"),
    [("before", http.client.RemoteDisconnected), ("mid_body", http.client.IncompleteRead)],
)
def test_fault_drops_the_connection(
    emu: ProviderEmulator, mode: str, error: type[Exception]
) -> None:
    emu.enqueue("openai", Fault(200, b'{"id": "x", "choices": []}', drop_connection=mode))
    with pytest.raises(error):
        post(emu.openai_base_url + "/chat/completions", {"model": "m"}).read()
    assert emu.request_count == 1


def test_sse_drop_after_breaks_the_sdk_stream(emu: ProviderEmulator, oai: openai.OpenAI) -> None:
    events = wire.openai_chunks(["a", "b", "c"]).events
    emu.enqueue("openai", SSEReply(events, done=True, drop_after=2))
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "a"]


def test_sdk_retries_are_counted_at_the_server(emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Fault(503, "busy", headers={"retry-after-ms": "5"}))
    with openai.OpenAI(base_url=emu.openai_base_url, api_key="k", max_retries=1) as client:
        reply = client.chat.completions.create(model="m", messages=USER)
    assert reply.choices[0].message.content == "echo: hello there"
    assert emu.request_count == 2


def test_slow_reply_hits_the_sdk_timeout(emu: ProviderEmulator, oai: openai.OpenAI) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("late"), delay=2.0))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.chat.completions.create(model="m", messages=USER, timeout=0.2)
    assert time.monotonic() - started < 1.5


def test_gemini_invalid_key_is_a_400_with_error_info(
    emu: ProviderEmulator, gemini: genai.Client
) -> None:
    body = wire.gemini_error(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID")
    emu.enqueue("gemini", Reply(body, status=400))
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


# --- concurrency and shutdown -------------------------------------------------------------------


def test_many_threads_on_keep_alive_connections_then_prompt_stop() -> None:
    emu = ProviderEmulator().start()
    client = openai.OpenAI(base_url=emu.openai_base_url, api_key="k", max_retries=0)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                text = f"thread {n} call {i}"
                messages = [{"role": "user", "content": text}]
                reply = client.chat.completions.create(model="m", messages=messages)
                assert reply.choices[0].message.content == "echo: " + text
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert failures == [] and emu.request_count == 32 * 4

    started = time.monotonic()
    emu.stop()  # the client's pool still holds idle keep-alive connections
    assert time.monotonic() - started < 1.0
    client.close()


# --- wire builders against the SDKs' own response models ----------------------------------------


def test_wire_builders_validate_against_sdk_models() -> None:
    refused = ChatCompletion.model_validate(wire.openai_chat(None, refusal="I can't."))
    assert refused.choices[0].message.refusal == "I can't."
    call = {"id": "call_9", "name": "lookup", "arguments": {"q": 1}}
    called = ChatCompletion.model_validate(wire.openai_chat(None, tool_calls=[call], azure=True))
    assert called.choices[0].finish_reason == "tool_calls"
    assert called.choices[0].message.tool_calls[0].function.arguments == '{"q": 1}'

    blocks = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "answer"},
        {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {}},
    ]
    message = Message.model_validate(wire.anthropic_message(blocks, stop_reason="tool_use"))
    assert [block.type for block in message.content] == [b["type"] for b in blocks]

    parts = [
        {"text": "pondering", "thought": True},
        {"functionCall": {"name": "lookup", "args": {"q": 1}}, "thoughtSignature": "c2ln"},
    ]
    reply = genai_types.GenerateContentResponse.model_validate(
        wire.gemini_response(parts, candidates_tokens=0, thoughts_tokens=7)
    )
    assert reply.function_calls and reply.function_calls[0].name == "lookup"
    assert reply.usage_metadata and reply.usage_metadata.candidates_token_count is None
    empty = wire.gemini_response(finish_reason="MAX_TOKENS", no_parts=True)
    truncated = genai_types.GenerateContentResponse.model_validate(empty)
    assert truncated.text is None
    assert truncated.candidates and truncated.candidates[0].finish_reason == "MAX_TOKENS"
