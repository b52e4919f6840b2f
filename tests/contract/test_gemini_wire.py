"""The Gemini wire path against the SDK's public path, through the real google-genai SDK and
real HTTP: for each request shape the library builds, the server receives the same request
(path, query, headers, JSON body) and the caller gets the same reply, on the Gemini API and on
Vertex AI. Calls with SDK options take the public path; so does an adapter built with
``wire=False``, which is the path a google-genai without the wire path's private names takes.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types

from persona_llm.content import AudioPart, DocumentPart, ImagePart, TextPart
from persona_llm.providers.gemini.adapter import GeminiAdapter, async_client, sync_client
from persona_llm.providers.gemini.wire import GeminiRawReply, supported, wire_body
from persona_llm.settings import ProviderConfig
from persona_llm.testing import wire
from persona_llm.testing.credentials import FakeGoogleCredentials
from persona_llm.testing.emulator import ProviderEmulator, Reply
from persona_llm.types import ChatMessage, ChatRequest, Tool, ToolCall

SIGNATURE = base64.b64encode(bytes([251, 255, 190, 1, 2, 3, 4])).decode()  # "+/+..." and "="
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
USER = ChatMessage(role="user", content="hello")
TOOL = Tool(
    name="get_weather",
    description="Weather of a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "default": None}},
        "required": ["city"],
    },
)
CALL = ToolCall(
    id="call_0_get_weather",
    name="get_weather",
    arguments={"city": "Oslo", "unit": None, "nested": {"a_b": [1, 2.5]}},
    provider_data={"gemini": {"thought_signature": SIGNATURE, "id": "fc-1"}},
)


def _requests() -> dict[str, tuple[str, ChatRequest]]:
    turns = (
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="system", content="Be kind."),
        ChatMessage(role="user", content="Hi"),
        ChatMessage(role="user", content="again ✓"),
        ChatMessage(
            role="assistant",
            content="Hello",
            provider_data={"gemini": {"text_signature": SIGNATURE}},
        ),
        USER,
    )
    tool_turns = (
        USER,
        ChatMessage(role="assistant", content="Let me look.", tool_calls=[CALL]),
        ChatMessage(role="tool", content="12 C", tool_call_id=CALL.id),
        ChatMessage(role="tool", content="named", tool_call_id="other", name="get_weather"),
    )
    media = ChatMessage(
        role="user",
        content=[
            TextPart(text="What is this?"),
            ImagePart.from_bytes(PNG, media_type="image/png"),
            DocumentPart.from_url("https://example.com/a.pdf"),
            AudioPart.from_bytes(b"ID3" + bytes(64), media_type="audio/mpeg"),
        ],
    )
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object", "properties": {"a": {}}}},
    }
    flash = "gemini-2.5-flash"
    cases: dict[str, tuple[str, ChatRequest]] = {
        "plain": (flash, ChatRequest(messages=(USER,))),
        "turns": (flash, ChatRequest(messages=turns)),
        "system-only": (flash, ChatRequest(messages=(ChatMessage(role="system", content="S"),))),
        "settings": (
            flash,
            ChatRequest(messages=(USER,), temperature=1, max_tokens=50, stop=["END", "x"]),
        ),
        "json-object": (
            flash,
            ChatRequest(messages=(USER,), response_format={"type": "json_object"}),
        ),
        "json-schema": (flash, ChatRequest(messages=(USER,), response_format=schema)),
        "tool-calls": (flash, ChatRequest(messages=tool_turns, tools=[TOOL])),
        "media": (flash, ChatRequest(messages=(media,))),
        "thinking-2.5": (flash, ChatRequest(messages=(USER,), reasoning="low")),
        "thinking-2.5-pro": ("gemini-2.5-pro", ChatRequest(messages=(USER,), reasoning="none")),
        "thinking-3": ("gemini-3-pro", ChatRequest(messages=(USER,), reasoning="high")),
        "thinking-3-none": ("gemini-3-flash", ChatRequest(messages=(USER,), reasoning="none")),
    }
    for choice in ("auto", "none", "required", "get_weather"):
        cases[f"tool-choice-{choice}"] = (
            flash,
            ChatRequest(messages=(USER,), tools=[TOOL], tool_choice=choice),
        )
    return cases


REQUESTS = _requests()


def _adapter(config: ProviderConfig, wire_path: bool) -> GeminiAdapter:
    credentials = FakeGoogleCredentials() if config.vertex else None
    return GeminiAdapter(
        config,
        sync_client(config, credentials),
        lambda: async_client(config, credentials),
        wire=wire_path,
    )


@pytest.fixture(scope="module", params=["gemini", "vertex"])
def adapters(
    request: pytest.FixtureRequest, emulator: ProviderEmulator
) -> Iterator[tuple[GeminiAdapter, GeminiAdapter]]:
    config = emulator.config_for(request.param)
    pair = (_adapter(config, True), _adapter(config, False))
    yield pair
    for adapter in pair:
        adapter.close()
        adapter._client.close()


def _received(emu: ProviderEmulator) -> dict[str, Any]:
    sent = emu.last_request("gemini")
    headers = {name: value for name, value in sent.headers.items() if name != "host"}
    return {"path": sent.path, "query": sent.query, "headers": headers, "json": sent.json}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_the_server_receives_the_same_request_and_the_caller_the_same_reply(
    name: str, adapters: tuple[GeminiAdapter, GeminiAdapter], emu: ProviderEmulator
) -> None:
    on_wire, on_sdk = adapters
    assert on_wire.wire and not on_sdk.wire
    model, request = REQUESTS[name]
    wire_reply = on_wire.chat(model, request)
    wire_request = _received(emu)
    sdk_reply = on_sdk.chat(model, request)
    assert wire_request == _received(emu)
    assert wire_reply == sdk_reply
    assert isinstance(wire_reply.raw, GeminiRawReply)
    assert isinstance(sdk_reply.raw, types.GenerateContentResponse)


@pytest.mark.parametrize("name", ["turns", "tool-calls", "media"])
def test_asyncio_sends_the_same_request_too(
    name: str, adapters: tuple[GeminiAdapter, GeminiAdapter], emu: ProviderEmulator
) -> None:
    on_wire, on_sdk = adapters
    model, request = REQUESTS[name]

    async def both() -> tuple[Any, ...]:
        first = await on_wire.achat(model, request)
        sent = _received(emu)
        return first, sent, await on_sdk.achat(model, request), _received(emu)

    wire_reply, wire_request, sdk_reply, sdk_request = asyncio.run(both())
    assert wire_request == sdk_request
    assert wire_reply == sdk_reply and isinstance(wire_reply.raw, GeminiRawReply)


REPLIES = {
    "thoughts-calls-signatures": wire.gemini_response(
        [
            {"text": "thinking about it", "thought": True},
            {"text": "Answer: ", "thoughtSignature": SIGNATURE},
            {"text": "42"},
            {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": SIGNATURE},
            {"functionCall": {"name": "g", "args": {}, "id": "given"}},
        ],
    ),
    "safety-no-parts": {
        "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}],
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "r1",
    },
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_awkward_replies_map_alike_on_both_paths(
    name: str, adapters: tuple[GeminiAdapter, GeminiAdapter], emu: ProviderEmulator
) -> None:
    on_wire, on_sdk = adapters
    emu.enqueue("gemini", Reply(REPLIES[name]), Reply(REPLIES[name]))
    wire_reply = on_wire.chat("gemini-2.5-flash", ChatRequest(messages=(USER,)))
    sdk_reply = on_sdk.chat("gemini-2.5-flash", ChatRequest(messages=(USER,)))
    assert wire_reply == sdk_reply
    assert wire_reply.raw == REPLIES[name]
    without_headers = {"sdk_http_response"}
    assert wire_reply.raw.sdk_model().model_dump(exclude=without_headers) == (
        sdk_reply.raw.model_dump(exclude=without_headers)
    )


def test_a_call_with_sdk_options_takes_the_sdk_path(
    adapters: tuple[GeminiAdapter, GeminiAdapter], emu: ProviderEmulator
) -> None:
    on_wire, _ = adapters
    request = ChatRequest(messages=(USER,), options={"top_p": 0.5, "seed": 3})
    reply = on_wire.chat("gemini-2.5-flash", request)
    assert isinstance(reply.raw, types.GenerateContentResponse)
    assert emu.last_request("gemini").json["generationConfig"] == {"topP": 0.5, "seed": 3}


def test_continuation_is_followed_and_merged_as_the_sdk_does(
    adapters: tuple[GeminiAdapter, GeminiAdapter], emu: ProviderEmulator
) -> None:
    token = base64.b64encode(b"\xfb\xffresume").decode()
    first = wire.gemini_response("Once upon ", finish_reason="CONTINUATION")
    first["candidates"][0]["continuationToken"] = token
    last = wire.gemini_response("a time.", prompt_tokens=3, candidates_tokens=4)
    replies: list[Any] = []
    bodies: list[Any] = []
    for adapter in adapters:
        emu.reset()
        emu.enqueue("gemini", Reply(first), Reply(last))
        replies.append(adapter.chat("gemini-2.5-flash", ChatRequest(messages=(USER,))))
        bodies.append([sent.json for sent in emu.requests_for("gemini")])
    assert replies[0] == replies[1]
    assert replies[0].content == "Once upon a time." and replies[0].finish_reason == "stop"
    assert bodies[0] == bodies[1]
    assert bodies[0][1]["continuationToken"] == base64.urlsafe_b64encode(b"\xfb\xffresume").decode()


def test_wire_body_leaves_what_it_does_not_build_to_the_sdk() -> None:
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    assert wire_body(contents, {"temperature": 0.5}) is not None
    assert wire_body(contents, {"safety_settings": []}) is None
    assert wire_body(contents, {"thinking_config": {"thinking_budget": 1, "new": 2}}) is None
    assert wire_body([{"role": "user", "parts": [{"video_metadata": {}}]}], {}) is None
    bad_signature = [{"role": "model", "parts": [{"text": "a", "thought_signature": "a"}]}]
    assert wire_body(bad_signature, {}) is None  # the SDK's own check reports it
    assert not supported(object())
