"""Anthropic tool mapping, dict in / dict out, and the stream assembly: no network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.anthropic.mapping import (
    JSON_TOOL_NAME,
    from_anthropic_message,
    to_anthropic_messages,
    to_anthropic_params,
)
from persona_llm.providers.anthropic.stream import StreamState
from persona_llm.testing import wire
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest, Tool, ToolCall

MODEL = "claude-sonnet-4-6"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = Tool(name="get_weather", description="Weather of a city.", parameters=SCHEMA)
ASK = ChatMessage(role="user", content="Weather in Paris and Rome?")
PARIS = ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"})
ROME = ToolCall(id="toolu_2", name="get_weather", arguments={"city": "Rome"})
PARIS_USE = {"name": "get_weather", "input": {"city": "Paris"}}
ROME_USE = {"name": "get_weather", "input": {"city": "Rome"}}


def params(*messages: ChatMessage, **fields: Any) -> dict[str, Any]:
    return to_anthropic_params(MODEL, ChatRequest(messages=messages or (ASK,), **fields))


def result(call: ToolCall, content: str) -> ChatMessage:
    return ChatMessage(role="tool", tool_call_id=call.id, content=content)


# -- requests -------------------------------------------------------------------------------


def test_tools_use_input_schema() -> None:
    assert params(tools=(WEATHER, Tool(name="now")))["tools"] == [
        {"name": "get_weather", "description": "Weather of a city.", "input_schema": SCHEMA},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "wire_choice"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice(choice: str, wire_choice: dict[str, Any]) -> None:
    assert params(tools=(WEATHER,), tool_choice=choice)["tool_choice"] == wire_choice
    assert "tool_choice" not in params(tools=(WEATHER,))


def test_tool_calls_and_results_become_blocks_and_results_share_one_user_turn() -> None:
    turn = ChatMessage(role="assistant", content="Let me check.", tool_calls=(PARIS, ROME))
    _, messages = to_anthropic_messages(
        [
            ASK,
            turn,
            result(PARIS, "18C"),
            result(ROME, ""),
            ChatMessage(role="user", content="Thanks"),
        ]
    )
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", **PARIS_USE},
                {"type": "tool_use", "id": "toolu_2", **ROME_USE},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]  # fmt: skip


def test_results_come_first_in_a_user_turn_and_plain_turns_still_join_as_text() -> None:
    calls = ChatMessage(role="assistant", content="", tool_calls=(PARIS,))
    note = ChatMessage(role="user", content="Be quick.")
    _, messages = to_anthropic_messages([ASK, note, calls, note, result(PARIS, "18C")])
    assert messages[0] == {"role": "user", "content": "Weather in Paris and Rome?\n\nBe quick."}
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert [block["type"] for block in messages[2]["content"]] == ["tool_result", "text"]


def test_thinking_blocks_kept_on_the_first_call_go_back_first() -> None:
    thinking = [{"type": "thinking", "thinking": "Two cities.", "signature": "sig=="}]
    signed = PARIS.model_copy(update={"provider_data": {"anthropic": {"thinking": thinking}}})
    turn = ChatMessage(role="assistant", content="On it.", tool_calls=(signed, ROME))
    _, messages = to_anthropic_messages([ASK, turn])
    assert [b["type"] for b in messages[1]["content"]] == [
        "thinking",
        "text",
        "tool_use",
        "tool_use",
    ]
    assert messages[1]["content"][0] == thinking[0]


def test_json_mode_with_tools_answers_through_any_tool() -> None:
    json_mode = {"type": "json_object"}
    sent = params(tools=(WEATHER,), response_format=json_mode)
    assert [t["name"] for t in sent["tools"]] == ["get_weather", JSON_TOOL_NAME]
    assert sent["tool_choice"] == {"type": "any"}
    forced = params(tools=(WEATHER,), tool_choice="none", response_format=json_mode)
    assert forced["tool_choice"] == {"type": "tool", "name": JSON_TOOL_NAME}
    named = params(tools=(WEATHER,), tool_choice="get_weather", response_format=json_mode)
    assert named["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_option_tools_are_added_after_the_requests_tools() -> None:
    server = {"type": "web_search_20250305", "name": "web_search"}
    sent = params(tools=(WEATHER,), options={"tools": [server]})
    assert [t["name"] for t in sent["tools"]] == ["get_weather", "web_search"]


# -- replies --------------------------------------------------------------------------------


def test_the_replys_thinking_is_kept_on_the_first_tool_call() -> None:
    body = wire.anthropic_message(
        [
            {"type": "thinking", "thinking": "Both.", "signature": "sig1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
        stop_reason="tool_use",
    )
    reply = from_anthropic_message(body, model=MODEL)
    assert reply.tool_calls == [PARIS, ROME]
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].provider_data == {
        "anthropic": {
            "thinking": [
                {"type": "thinking", "thinking": "Both.", "signature": "sig1"},
                {"type": "redacted_thinking", "data": "opaque"},
            ]
        }
    }
    assert reply.tool_calls[1].provider_data == {}
    again = to_anthropic_messages([ASK, reply.to_message()])[1][1]["content"]
    assert [b["type"] for b in again] == ["thinking", "redacted_thinking", "tool_use", "tool_use"]


# -- streaming ------------------------------------------------------------------------------


def feed_all(state: StreamState, stream: Any) -> list[ChatChunk]:
    chunks = [state.feed(e) for e in stream.events if isinstance(e, dict)]
    chunks.append(state.feed({"type": "message_stop"}))  # written verbatim by the builder
    return [c for c in chunks if c is not None]


def test_streamed_tool_calls_are_assembled_and_no_arguments_give_an_empty_object() -> None:
    stream = wire.anthropic_events(
        [
            {"type": "thinking", "thinking": "Let me see", "signature": "sig-abc"},
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_3", "name": "now", "input": {}},
        ],
        stop_reason="tool_use",
        model="claude-opus-4-1",
    )
    *texts, last = feed_all(StreamState(model=MODEL), stream)
    assert "".join(c.delta for c in texts) == "Checking."
    assert last.tool_calls == [PARIS, ToolCall(id="toolu_3", name="now", arguments={})]
    assert last.tool_calls[0].provider_data == {
        "anthropic": {
            "thinking": [{"type": "thinking", "thinking": "Let me see", "signature": "sig-abc"}]
        }
    }
    assert (last.finish_reason, last.model, last.provider) == (
        "tool_calls",
        "claude-opus-4-1",
        "anthropic",
    )


def test_streamed_json_mode_with_a_caller_tool_call() -> None:
    stream = wire.anthropic_events(
        [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
        stop_reason="tool_use",
    )
    chunks = feed_all(StreamState(json_mode=True), stream)
    assert [c.delta for c in chunks] == [""]
    assert (chunks[-1].finish_reason, chunks[-1].tool_calls) == ("tool_calls", [PARIS])
    answer = wire.anthropic_events(
        [{"type": "tool_use", "name": JSON_TOOL_NAME, "input": {"ok": True}}],
        stop_reason="tool_use",
    )
    chunks = feed_all(StreamState(json_mode=True), answer)
    assert json.loads("".join(c.delta for c in chunks)) == {"ok": True}
    assert (chunks[-1].finish_reason, chunks[-1].tool_calls) == ("stop", [])


def test_a_streamed_refusal_is_on_the_last_chunk() -> None:
    stream = wire.anthropic_events("", stop_reason="refusal")
    state = StreamState()
    for event in stream.events:
        if isinstance(event, dict) and event["type"] == "message_delta":
            event["delta"]["stop_details"] = {"type": "refusal", "explanation": "Not allowed."}
    last = feed_all(state, stream)[-1]
    assert (last.finish_reason, last.refusal) == ("content_filter", "Not allowed.")


def test_a_caller_tool_named_like_the_json_tool_is_refused_in_json_mode() -> None:
    clash = Tool(name=JSON_TOOL_NAME)
    with pytest.raises(InvalidRequestError, match="taken by Anthropic JSON mode"):
        params(tools=(clash,), response_format={"type": "json_object"})
    assert [t["name"] for t in params(tools=(clash,))["tools"]] == [JSON_TOOL_NAME]
