"""Gemini tool mapping, dict in / dict out, and the stream assembly: no network."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.gemini.mapping import from_gemini_response, to_gemini_request
from persona_llm.providers.gemini.stream import GeminiStreamState
from persona_llm.testing import wire
from persona_llm.types import ChatMessage, ChatRequest, Tool, ToolCall

MODEL = "gemini-2.5-flash"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = Tool(name="get_weather", description="Weather of a city.", parameters=SCHEMA)
ASK = ChatMessage(role="user", content="Weather in Paris and Rome?")
SIGNATURE = "c2lnbmF0dXJl"  # base64 of b"signature", as on the wire


def request(*messages: ChatMessage, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (ASK,), **fields)


def reply(body: dict[str, Any]) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(body)


def call_part(name: str, signature: str | None = None, **args: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if signature:
        part["thoughtSignature"] = signature
    return part


# -- requests -------------------------------------------------------------------------------


def test_tools_are_function_declarations_with_a_json_schema() -> None:
    _, config = to_gemini_request(request(tools=(WEATHER, Tool(name="now"))))
    assert config["tools"] == [
        {
            "function_declarations": [
                {
                    "name": "get_weather",
                    "description": "Weather of a city.",
                    "parameters_json_schema": SCHEMA,
                },
                {"name": "now", "parameters_json_schema": {"type": "object", "properties": {}}},
            ]
        }
    ]
    types.GenerateContentConfig(**config)  # the SDK accepts it


@pytest.mark.parametrize(
    ("choice", "calling"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_weather", {"mode": "ANY", "allowed_function_names": ["get_weather"]}),
    ],
)
def test_tool_choice_is_the_function_calling_config(choice: str, calling: dict[str, Any]) -> None:
    _, config = to_gemini_request(request(tools=(WEATHER,), tool_choice=choice))
    assert config["tool_config"] == {"function_calling_config": calling}
    types.GenerateContentConfig(**config)


def test_option_tools_come_after_the_requests_tools() -> None:
    search = types.Tool(google_search=types.GoogleSearch())
    _, config = to_gemini_request(request(tools=(WEATHER,), options={"tools": [search]}))
    assert config["tools"][1] is search
    _, config = to_gemini_request(request(options={"tools": [search]}))
    assert config["tools"] == [search]


def test_calls_and_results_map_to_function_parts_with_signatures_and_names() -> None:
    signed = ToolCall(
        id="call_0_get_weather",
        name="get_weather",
        arguments={"city": "Paris"},
        provider_data={"gemini": {"thought_signature": SIGNATURE}},
    )
    given = ToolCall(
        id="fc-7",
        name="get_weather",
        arguments={"city": "Rome"},
        provider_data={"gemini": {"id": "fc-7"}},
    )
    messages = (
        ASK,
        ChatMessage(role="assistant", content="", tool_calls=(signed, given)),
        ChatMessage(role="tool", tool_call_id="call_0_get_weather", content="18C"),
        ChatMessage(role="tool", tool_call_id="fc-7", content="21C"),
        ChatMessage(role="tool", tool_call_id="other", name="now", content="noon"),
    )
    contents, _ = to_gemini_request(request(*messages))
    assert contents[1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "function_call": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thought_signature": SIGNATURE,
                },
                {"function_call": {"name": "get_weather", "args": {"city": "Rome"}, "id": "fc-7"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"function_response": {"name": "get_weather", "response": {"output": "18C"}}},
                {
                    "function_response": {
                        "name": "get_weather",
                        "response": {"output": "21C"},
                        "id": "fc-7",
                    }
                },
                {"function_response": {"name": "now", "response": {"output": "noon"}}},
            ],
        },
    ]  # fmt: skip
    sdk = types.Content.model_validate(contents[1])
    assert sdk.parts is not None and sdk.parts[0].thought_signature == b"signature"


def test_a_result_for_an_unknown_call_without_a_name_is_refused() -> None:
    orphan = ChatMessage(role="tool", tool_call_id="call_9", content="18C")
    with pytest.raises(InvalidRequestError, match="pass name="):
        to_gemini_request(request(ASK, orphan))


def test_a_text_and_calls_turn_keeps_its_text_first() -> None:
    call = ToolCall(id="call_0_now", name="now")
    turn = ChatMessage(role="assistant", content="One moment.", tool_calls=(call,))
    contents, _ = to_gemini_request(request(ASK, turn))
    assert contents[1]["parts"] == [
        {"text": "One moment."},
        {"function_call": {"name": "now", "args": {}}},
    ]


# -- replies --------------------------------------------------------------------------------


def test_calls_keep_the_signature_and_a_given_id() -> None:
    body = wire.gemini_response(
        [
            call_part("get_weather", SIGNATURE, city="Paris"),
            {"functionCall": {"id": "fc-7", "name": "get_weather", "args": {"city": "Rome"}}},
        ]
    )
    response = from_gemini_response(reply(body), MODEL)
    assert [(c.id, c.arguments) for c in response.tool_calls] == [
        ("call_0_get_weather", {"city": "Paris"}),
        ("fc-7", {"city": "Rome"}),
    ]
    assert [c.provider_data for c in response.tool_calls] == [
        {"gemini": {"thought_signature": SIGNATURE}},
        {"gemini": {"id": "fc-7"}},
    ]
    assert response.finish_reason == "tool_calls"
    contents, _ = to_gemini_request(request(ASK, response.to_message()))
    assert contents[1]["parts"][0]["thought_signature"] == SIGNATURE


# -- streaming ------------------------------------------------------------------------------


def test_streamed_calls_are_numbered_across_events_and_carried_by_the_last_chunk() -> None:
    stream = wire.gemini_events(
        ["Checking. ", call_part("get_weather", SIGNATURE, city="Paris"), call_part("now")],
        model_version="gemini-2.5-pro",
    )
    state = GeminiStreamState(MODEL)
    chunks = [state.feed(reply(event)) for event in stream.events]
    assert [c.tool_calls for c in chunks[:-1]] == [[], []]
    last = chunks[-1]
    assert [c.id for c in last.tool_calls] == ["call_0_get_weather", "call_1_now"]
    assert last.tool_calls[0].provider_data == {"gemini": {"thought_signature": SIGNATURE}}
    assert (last.finish_reason, last.model, last.provider) == (
        "tool_calls",
        "gemini-2.5-pro",
        "gemini",
    )
    assert state.finished
    whole = from_gemini_response(
        reply(wire.gemini_response([call_part("get_weather", city="Paris"), call_part("now")])),
        MODEL,
    )
    assert [c.id for c in whole.tool_calls] == [c.id for c in last.tool_calls]


def test_a_text_stream_finishes_with_stop() -> None:
    state = GeminiStreamState(MODEL)
    chunks = [state.feed(reply(e)) for e in wire.gemini_events(["Hi ", "there"]).events]
    assert (chunks[-1].finish_reason, chunks[-1].tool_calls) == ("stop", [])
