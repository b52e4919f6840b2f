"""The Responses API mapping, dict in / dict out: every feature of the Chat Completions path."""

from __future__ import annotations

from typing import Any

import pytest

from persona_llm.errors import (
    InvalidRequestError,
    ProviderUnavailableError,
    RateLimitError,
    ResponseParseError,
)
from persona_llm.messages import to_messages
from persona_llm.providers.openai.responses_mapping import (
    ENCRYPTED_REASONING,
    from_responses,
    to_responses_input,
    to_responses_params,
)
from persona_llm.testing import wire
from persona_llm.types import ChatMessage, ChatRequest, Tool, ToolCall, Usage

WEATHER = Tool(
    name="get_weather",
    description="Weather of a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def request(*messages: Any, **fields: Any) -> ChatRequest:
    return ChatRequest(
        messages=to_messages(messages or [{"role": "user", "content": "hi"}]), **fields
    )


def params(model: str = "gpt-4o-mini", **fields: Any) -> dict[str, Any]:
    messages = fields.pop("messages", ())
    return to_responses_params(model, request(*messages, **fields))


# -- request ------------------------------------------------------------------------------


def test_a_plain_request_is_stateless_input_items() -> None:
    assert params() == {
        "model": "gpt-4o-mini",
        "input": [{"role": "user", "content": "hi"}],
        "store": False,
    }


def test_system_messages_stay_input_items_in_their_place() -> None:
    sent = params(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "system", "content": "Now French."},
            {"role": "user", "content": "c"},
        ]
    )
    assert "instructions" not in sent
    assert sent["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": "Now French."},
        {"role": "user", "content": "c"},
    ]


def test_instructions_can_be_passed_as_an_option() -> None:
    assert params(options={"instructions": "Be brief."})["instructions"] == "Be brief."


def test_reasoning_models_ask_for_encrypted_reasoning_and_get_max_output_tokens() -> None:
    sent = params("o4-mini", max_tokens=300, options={"reasoning_effort": "high"})
    assert sent["include"] == [ENCRYPTED_REASONING]
    assert sent["max_output_tokens"] == 300
    assert sent["reasoning"] == {"effort": "high"}
    assert "reasoning_effort" not in sent and "max_tokens" not in sent


def test_reasoning_summary_option_and_a_reasoning_dict_are_merged() -> None:
    sent = params("gpt-5", options={"reasoning_effort": "low", "reasoning_summary": "auto"})
    assert sent["reasoning"] == {"effort": "low", "summary": "auto"}
    sent = params("gpt-5", options={"reasoning": {"effort": "medium", "summary": "detailed"}})
    assert sent["reasoning"] == {"effort": "medium", "summary": "detailed"}


def test_non_reasoning_models_take_temperature_and_no_include() -> None:
    sent = params("gpt-4.1", temperature=0.2)
    assert sent["temperature"] == 0.2
    assert "include" not in sent


def test_a_temperature_a_reasoning_model_rejects_is_refused_before_sending() -> None:
    with pytest.raises(InvalidRequestError, match="temperature"):
        params("o3", temperature=0.2)
    assert "temperature" not in to_responses_params(
        "o3", request(temperature=0.2), unsupported_params="drop"
    )


def test_stop_sequences_are_refused_with_the_fix() -> None:
    with pytest.raises(InvalidRequestError, match="OPENAI_API=chat") as caught:
        params(stop=("END",))
    assert caught.value.provider == "openai"


def test_json_object_and_json_schema_become_text_format() -> None:
    assert params(response_format={"type": "json_object"})["text"] == {
        "format": {"type": "json_object"}
    }
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    json_schema = {"name": "Thing", "schema": schema, "strict": True}
    sent = params(response_format={"type": "json_schema", "json_schema": json_schema})
    assert sent["text"] == {
        "format": {"type": "json_schema", "name": "Thing", "schema": schema, "strict": True}
    }


def test_tools_are_flat_and_not_strict_unless_asked() -> None:
    strict = Tool(name="lookup", parameters={"type": "object", "properties": {}}, strict=True)
    sent = params(tools=(WEATHER, strict), tool_choice="get_weather")
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": WEATHER.parameters,
            "strict": False,
        },
        {"type": "function", "name": "lookup", "parameters": strict.parameters, "strict": True},
    ]
    assert sent["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert params(tools=(WEATHER,), tool_choice="required")["tool_choice"] == "required"


def test_built_in_tools_in_options_are_added_after_ours() -> None:
    sent = params(tools=(WEATHER,), options={"tools": [{"type": "web_search"}]})
    assert [tool["type"] for tool in sent["tools"]] == ["function", "web_search"]


def test_options_the_sdk_does_not_know_go_into_extra_body() -> None:
    sent = to_responses_params(
        "gpt-4o-mini",
        request(options={"parallel_tool_calls": False, "vendor_flag": 1, "openai_api": "x"}),
        known_params={"parallel_tool_calls"},
    )
    assert sent["parallel_tool_calls"] is False
    assert sent["extra_body"] == {"vendor_flag": 1}
    assert "openai_api" not in sent and "openai_api" not in sent["extra_body"]


def test_store_can_be_turned_on_by_the_caller() -> None:
    assert params(options={"store": True})["store"] is True


def test_a_tool_conversation_sends_reasoning_text_calls_and_outputs_in_order() -> None:
    first_reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "E1"}
    second_reasoning = {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "E2"}
    calls = (
        ToolCall(
            id="call_a",
            name="get_weather",
            arguments={"city": "Paris"},
            provider_data={"openai": {"reasoning": [second_reasoning], "id": "fc_a"}},
        ),
        ToolCall(id="call_b", name="get_weather", arguments={"city": "Rome"}),
    )
    text_data = {"openai": {"reasoning": [first_reasoning], "message_id": "msg_1"}}
    messages = [
        ChatMessage(role="user", content="weather?"),
        ChatMessage(
            role="assistant", content="Checking.", tool_calls=calls, provider_data=text_data
        ),
        ChatMessage(role="tool", tool_call_id="call_a", content="sunny"),
        ChatMessage(role="tool", tool_call_id="call_b", content="rain"),
    ]
    assert to_responses_input(messages) == [
        {"role": "user", "content": "weather?"},
        first_reasoning,
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        second_reasoning,
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "id": "fc_a",
        },
        {
            "type": "function_call",
            "call_id": "call_b",
            "name": "get_weather",
            "arguments": '{"city": "Rome"}',
        },
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_b", "output": "rain"},
    ]


def test_turns_without_provider_data_are_plain_input() -> None:
    messages = [
        ChatMessage(role="assistant", content="Hi."),
        ChatMessage(
            role="assistant", content="", tool_calls=(ToolCall(id="c", name="get_weather"),)
        ),
    ]
    assert to_responses_input(messages) == [
        {"role": "assistant", "content": "Hi."},
        {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
    ]


# -- reply --------------------------------------------------------------------------------


def reply(body: dict[str, Any], model: str = "gpt-4o-mini") -> Any:
    return from_responses(body, provider="openai", model=model)


def test_text_reply_with_usage_details() -> None:
    usage = wire.responses_usage(12, 30, reasoning_tokens=20, cached_tokens=8)
    got = reply(wire.openai_response("Hello there", model="o4-mini-2025", usage=usage))
    assert got.content == "Hello there"
    assert got.model == "o4-mini-2025"
    assert got.finish_reason == "stop"
    assert got.refusal is None
    assert got.usage == Usage(
        prompt_tokens=12,
        completion_tokens=30,
        total_tokens=42,
        reasoning_tokens=20,
        cached_tokens=8,
    )


def test_text_of_several_output_text_parts_is_joined() -> None:
    body = wire.openai_response("Hel")
    body["output"][0]["content"].append({"type": "output_text", "text": "lo", "annotations": []})
    assert reply(body).content == "Hello"


def test_a_refusal_comes_apart_from_the_text() -> None:
    got = reply(wire.openai_response(None, refusal="I can't help with that."))
    assert got.content == ""
    assert got.refusal == "I can't help with that."
    assert got.finish_reason == "stop"


def test_parallel_function_calls_carry_the_reasoning_that_preceded_them() -> None:
    thought = wire.reasoning_item("Need both cities.", encrypted_content="ENC")
    body = wire.openai_response(
        None,
        reasoning=[thought],
        tool_calls=[
            {"id": "call_a", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_b", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        ],
    )
    got = reply(body, model="o3")
    assert got.finish_reason == "tool_calls"
    assert [(c.id, c.arguments) for c in got.tool_calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Rome"}),
    ]
    assert got.reasoning == "Need both cities."
    assert got.tool_calls[0].provider_data["openai"]["id"] == body["output"][1]["id"]
    [carried] = got.tool_calls[0].provider_data["openai"]["reasoning"]
    assert carried == {
        "id": thought["id"],
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Need both cities."}],
        "encrypted_content": "ENC",
    }
    assert got.tool_calls[1].provider_data == {}


def test_a_text_reply_of_a_reasoning_model_round_trips_with_its_reasoning() -> None:
    thought = wire.reasoning_item("Short answer.", encrypted_content="ENC")
    body = wire.openai_response("Three.", model="o4-mini", reasoning=[thought])
    got = reply(body, model="o4-mini")
    assert got.content == "Three."
    assert got.reasoning == "Short answer."
    message_id = body["output"][1]["id"]
    assert got.provider_data["openai"]["message_id"] == message_id
    items = to_responses_input([got.to_message()])
    assert [item["type"] for item in items] == ["reasoning", "message"]
    assert items[0]["encrypted_content"] == "ENC"
    assert items[1]["id"] == message_id
    assert items[1]["content"] == [{"type": "output_text", "text": "Three.", "annotations": []}]


def test_ids_are_kept_only_for_items_that_follow_reasoning() -> None:
    got = reply(
        wire.openai_response(
            "ok", tool_calls=[{"id": "call_a", "name": "get_weather", "arguments": {}}]
        )
    )
    assert got.provider_data == {}
    assert got.tool_calls[0].provider_data == {}
    assert to_responses_input([got.to_message()])[0] == {"role": "assistant", "content": "ok"}


def test_reply_calls_round_trip_into_the_next_request() -> None:
    body = wire.openai_response(
        None,
        reasoning=[wire.reasoning_item(encrypted_content="ENC")],
        tool_calls=[{"id": "call_a", "name": "get_weather", "arguments": {"city": "Oslo"}}],
    )
    got = reply(body, model="o3")
    items = to_responses_input([got.to_message()])
    assert [item.get("type") for item in items] == ["reasoning", "function_call"]
    assert items[0]["encrypted_content"] == "ENC"
    assert items[1]["call_id"] == "call_a"
    assert items[1]["id"] == body["output"][1]["id"]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_output_tokens", "length"), ("content_filter", "content_filter"), ("other", "other")],
)
def test_an_incomplete_response_maps_its_reason(reason: str, finish: str) -> None:
    body = wire.openai_response("", status="incomplete", incomplete_reason=reason)
    got = reply(body)
    assert got.finish_reason == finish
    assert got.content == ""


def test_a_failed_response_raises_the_error_its_code_stands_for() -> None:
    error = {"code": "rate_limit_exceeded", "message": "Slow down."}
    with pytest.raises(RateLimitError, match="Slow down"):
        reply(wire.openai_response(None, status="failed", error=error))
    error = {"code": "server_error", "message": "Oops."}
    with pytest.raises(ProviderUnavailableError):
        reply(wire.openai_response(None, status="failed", error=error))


def test_malformed_call_arguments_are_a_parse_error() -> None:
    body = wire.openai_response(None, tool_calls=[{"name": "get_weather", "arguments": "{bad"}])
    with pytest.raises(ResponseParseError):
        reply(body)


def test_unknown_output_items_are_ignored() -> None:
    body = wire.openai_response("ok")
    body["output"].insert(0, {"type": "web_search_call", "id": "ws_1", "status": "completed"})
    assert reply(body).content == "ok"
