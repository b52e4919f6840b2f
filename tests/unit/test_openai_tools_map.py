"""OpenAI / Azure tool mapping, dict in / dict out, and the stream assembly: no network."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from persona_llm.errors import ProviderUnavailableError, ResponseParseError
from persona_llm.providers.openai import mapping as m
from persona_llm.providers.openai.stream import OpenAIStreamState
from persona_llm.testing import wire
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest, Tool, ToolCall

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = Tool(name="get_weather", description="Weather of a city.", parameters=SCHEMA)
NOW = Tool(name="now")
ASK = (ChatMessage(role="user", content="Weather?"),)


def params(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", ASK)
    return m.to_openai_params("gpt-4o-mini", ChatRequest(**fields))


def completion(body: dict[str, Any]) -> ChatCompletion:
    return ChatCompletion.model_construct(**body)


def chunks_of(stream: Any) -> list[ChatCompletionChunk]:
    return [ChatCompletionChunk.model_construct(**event) for event in stream.events]


def collect(state: OpenAIStreamState, stream: Any) -> list[ChatChunk]:
    chunks = [chunk for event in chunks_of(stream) if (chunk := state.feed(event))]
    return [*chunks, state.final_chunk()]


# -- requests -------------------------------------------------------------------------------


def test_tools_are_function_tools() -> None:
    strict = Tool(name="exact", parameters=SCHEMA, strict=True)
    assert params(tools=(WEATHER, NOW, strict))["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city.",
                "parameters": SCHEMA,
            },
        },
        {"type": "function", "function": {"name": "now", "parameters": NOW.parameters}},
        {"type": "function", "function": {"name": "exact", "parameters": SCHEMA, "strict": True}},
    ]


@pytest.mark.parametrize(
    ("choice", "wire_choice"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice(choice: str, wire_choice: Any) -> None:
    assert params(tools=(WEATHER,), tool_choice=choice)["tool_choice"] == wire_choice


def test_no_tools_sends_neither_field_and_option_tools_are_added() -> None:
    assert "tools" not in params() and "tool_choice" not in params()
    builtin = {"type": "web_search_preview"}
    sent = params(tools=(WEATHER,), options={"tools": [builtin], "parallel_tool_calls": False})
    assert [t.get("type") for t in sent["tools"]] == ["function", "web_search_preview"]
    assert sent["parallel_tool_calls"] is False


def test_tool_call_turns_and_results_in_the_wire_format() -> None:
    calls = (
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_2", name="now"),
    )
    messages = [
        ASK[0],
        ChatMessage(role="assistant", content="", tool_calls=calls),
        ChatMessage(role="tool", tool_call_id="call_1", name="get_weather", content="18C"),
        ChatMessage(role="tool", tool_call_id="call_2", content="noon"),
        ChatMessage(role="assistant", content="Checking.", tool_calls=calls[1:]),
    ]
    assert m.to_openai_messages(messages)[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "now", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ],
        },
    ]


def test_a_custom_tool_call_goes_back_as_a_custom_call() -> None:
    custom = {"id": "call_9", "type": "custom", "custom": {"name": "grammar", "input": "a+b"}}
    body = wire.openai_chat(None, finish_reason="tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [custom]
    (call,) = m.from_openai_completion(completion(body), provider="openai", model="x").tool_calls
    assert call.arguments == {"input": "a+b"}
    turn = m.to_openai_messages([ChatMessage(role="assistant", content="", tool_calls=(call,))])
    assert turn[0]["tool_calls"] == [custom]


# -- replies --------------------------------------------------------------------------------


def test_parallel_tool_calls_are_parsed_in_order() -> None:
    body = wire.openai_chat(
        None,
        tool_calls=[
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_2", "name": "now", "arguments": ""},
        ],
    )
    reply = m.from_openai_completion(completion(body), provider="openai", model="x")
    assert reply.tool_calls == [
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_2", name="now"),
    ]
    assert (reply.content, reply.finish_reason) == ("", "tool_calls")


def test_a_forced_function_reports_tool_calls_although_the_api_says_stop() -> None:
    body = wire.openai_chat(
        None, finish_reason="stop", tool_calls=[{"name": "now", "arguments": "{}"}]
    )
    reply = m.from_openai_completion(completion(body), provider="openai", model="x")
    assert reply.finish_reason == "tool_calls"
    text = m.from_openai_completion(completion(wire.openai_chat("Hi")), provider="o", model="x")
    assert text.finish_reason == "stop"


# -- streaming ------------------------------------------------------------------------------


def test_streamed_fragments_are_assembled_by_index() -> None:
    stream = wire.openai_chunks(
        [],
        tool_calls=[
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris", "days": 3}},
            {"id": "call_2", "name": "now", "arguments": ""},
        ],
        usage=wire.openai_usage(7, 9),
    )
    *pieces, last = collect(OpenAIStreamState("openai", "gpt-4o-mini"), stream)
    assert pieces == []
    assert last.tool_calls == [
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris", "days": 3}),
        ToolCall(id="call_2", name="now", arguments={}),
    ]
    assert (last.finish_reason, last.provider, last.model) == (
        "tool_calls",
        "openai",
        "gpt-4o-mini",
    )
    assert last.usage is not None and last.usage.completion_tokens == 9


def test_streamed_refusal_pieces_and_the_azure_opening_chunk() -> None:
    stream = wire.openai_chunks([], refusal=["I can't ", "help."], azure=True, model="gpt-4o")
    *pieces, last = collect(OpenAIStreamState("azure", "my-deployment"), stream)
    assert [(p.delta, p.refusal) for p in pieces] == [("", "I can't "), ("", "help.")]
    assert (last.finish_reason, last.model, last.tool_calls) == ("stop", "gpt-4o", [])


def test_a_forced_function_streamed_with_stop_reports_tool_calls() -> None:
    stream = wire.openai_chunks([], finish_reason="stop", tool_calls=[{"name": "now"}])
    assert collect(OpenAIStreamState("openai", "x"), stream)[-1].finish_reason == "tool_calls"


def test_fragments_without_an_index_continue_the_call_of_the_last_id() -> None:
    state = OpenAIStreamState("ollama", "llama3.2")
    for delta in (
        {"tool_calls": [{"id": "a", "function": {"name": "now", "arguments": "{"}}]},
        {"tool_calls": [{"function": {"arguments": "}"}}]},
        {"tool_calls": [{"id": "b", "function": {"name": "get_weather", "arguments": "{}"}}]},
    ):
        state.feed(ChatCompletionChunk.model_construct(choices=[{"index": 0, "delta": delta}]))
    state.feed(
        ChatCompletionChunk.model_construct(choices=[{"delta": {}, "finish_reason": "tool_calls"}])
    )
    assert [c.id for c in state.final_chunk().tool_calls] == ["a", "b"]


def test_broken_streamed_arguments_and_a_missing_finish_are_errors() -> None:
    state = OpenAIStreamState("openai", "x")
    broken = {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}
    state.feed(ChatCompletionChunk.model_construct(choices=[{"index": 0, "delta": broken}]))
    with pytest.raises(ProviderUnavailableError, match="without a finish reason"):
        state.final_chunk()
    state.feed(
        ChatCompletionChunk.model_construct(choices=[{"delta": {}, "finish_reason": "tool_calls"}])
    )
    with pytest.raises(ResponseParseError, match="'f' are not valid JSON"):
        state.final_chunk()
