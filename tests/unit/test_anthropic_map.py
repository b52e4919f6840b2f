"""Anthropic mapping, dict in / dict out: no SDK call, no network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.anthropic.mapping import (
    FALLBACK_MAX_TOKENS,
    JSON_TOOL_NAME,
    default_max_tokens,
    from_anthropic_message,
    to_anthropic_messages,
    to_anthropic_params,
    to_finish_reason,
    to_sdk_kwargs,
    to_usage,
)
from persona_llm.providers.anthropic.stream import StreamState
from persona_llm.testing import wire
from persona_llm.types import ChatChunk, ChatMessage, ChatRequest, ToolCall, Usage

MODEL = "claude-sonnet-4-6"


def request(*messages: tuple[str, str], **fields: Any) -> ChatRequest:
    return ChatRequest(
        messages=tuple(ChatMessage(role=r, content=c) for r, c in messages),  # type: ignore[arg-type]
        **fields,
    )


# -- messages -------------------------------------------------------------------------------


def test_all_system_messages_are_joined_into_system_in_order() -> None:
    system, messages = to_anthropic_messages(
        request(("system", "Be brief."), ("user", "Hi"), ("system", "Use French.")).messages
    )
    assert system == "Be brief.\n\nUse French."
    assert messages == [{"role": "user", "content": "Hi"}]


def test_no_system_message_gives_no_system_field() -> None:
    params = to_anthropic_params(MODEL, request(("user", "Hi")))
    assert "system" not in params


def test_consecutive_same_role_messages_are_merged() -> None:
    _, messages = to_anthropic_messages(
        request(
            ("user", "one"),
            ("user", "two"),
            ("assistant", "a"),
            ("system", "s"),
            ("assistant", "b"),
            ("user", "three"),
        ).messages
    )
    assert messages == [
        {"role": "user", "content": "one\n\ntwo"},
        {"role": "assistant", "content": "a\n\nb"},
        {"role": "user", "content": "three"},
    ]


def test_leading_assistant_turn_is_sent_as_is() -> None:
    _, messages = to_anthropic_messages(request(("assistant", "Hello!"), ("user", "Hi")).messages)
    assert messages == [
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Hi"},
    ]


def test_only_system_messages_is_refused_before_sending() -> None:
    with pytest.raises(InvalidRequestError, match="at least one user or assistant"):
        to_anthropic_params(MODEL, request(("system", "alone")))


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-3-haiku-20240307", 4096),
        ("claude-3-opus-20240229", 4096),
        ("claude-3-5-haiku-20241022", 8192),
        ("claude-3-7-sonnet-latest", 8192),
        ("claude-sonnet-4-5", 8192),
        ("claude-opus-4-1-20250805", 8192),
        ("claude-haiku-4-5", 8192),
        ("claude-sonnet-5", 8192),
        ("some-proxy-model", FALLBACK_MAX_TOKENS),
    ],
)
def test_default_max_tokens_by_longest_prefix(model: str, expected: int) -> None:
    assert default_max_tokens(model) == expected


def test_callers_max_tokens_wins_over_the_default() -> None:
    assert to_anthropic_params(MODEL, request(("user", "x"), max_tokens=17))["max_tokens"] == 17
    assert to_anthropic_params(MODEL, request(("user", "x")))["max_tokens"] == 8192


def test_temperature_only_when_set_and_stop_becomes_stop_sequences() -> None:
    plain = to_anthropic_params(MODEL, request(("user", "x")))
    assert "temperature" not in plain and "stop_sequences" not in plain
    params = to_anthropic_params(MODEL, request(("user", "x"), temperature=0.0, stop=("END",)))
    assert params["temperature"] == 0.0
    assert params["stop_sequences"] == ["END"]


def test_options_pass_through_unchanged_and_win() -> None:
    options = {"metadata": {"user_id": "u1"}, "top_k": 5, "max_tokens": 9}
    params = to_anthropic_params(MODEL, request(("user", "x"), options=options))
    assert params["metadata"] == {"user_id": "u1"}
    assert params["top_k"] == 5
    assert params["max_tokens"] == 9


def test_fields_without_sdk_keyword_travel_in_extra_body() -> None:
    params = {"model": MODEL, "temperature": 0.5, "top_k": 3, "extra_body": {"top_k": 4}}
    kwargs = to_sdk_kwargs(params, {"model", "extra_body"})
    assert kwargs == {"model": MODEL, "extra_body": {"temperature": 0.5, "top_k": 4}}
    assert to_sdk_kwargs({"model": MODEL}, {"model"}) == {"model": MODEL}


# -- JSON mode ------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


def test_json_object_forces_the_json_output_tool() -> None:
    params = to_anthropic_params(
        MODEL, request(("user", "x"), response_format={"type": "json_object"})
    )
    assert params["tools"][0]["name"] == JSON_TOOL_NAME
    assert params["tools"][0]["input_schema"] == {"type": "object"}
    assert params["tool_choice"] == {"type": "tool", "name": JSON_TOOL_NAME}


def test_json_schema_becomes_the_tool_input_schema() -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA}}
    params = to_anthropic_params(MODEL, request(("user", "x"), response_format=response_format))
    assert params["tools"] == [
        {
            "name": JSON_TOOL_NAME,
            "description": params["tools"][0]["description"],
            "input_schema": SCHEMA,
        }
    ]


def test_json_mode_keeps_the_callers_tools() -> None:
    mine = {"name": "lookup", "input_schema": {"type": "object"}}
    params = to_anthropic_params(
        MODEL,
        request(("user", "x"), response_format={"type": "json_object"}, options={"tools": [mine]}),
    )
    assert [t["name"] for t in params["tools"]] == ["lookup", JSON_TOOL_NAME]


def test_non_object_schema_is_refused() -> None:
    response_format = {"type": "json_schema", "json_schema": {"schema": {"type": "array"}}}
    with pytest.raises(InvalidRequestError, match="top level is an object"):
        to_anthropic_params(MODEL, request(("user", "x"), response_format=response_format))


def test_json_schema_with_thinking_uses_native_output_config() -> None:
    response_format = {"type": "json_schema", "json_schema": {"schema": SCHEMA}}
    params = to_anthropic_params(
        MODEL,
        request(
            ("user", "x"),
            response_format=response_format,
            options={"thinking": {"type": "adaptive"}},
        ),
    )
    assert params["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in params and "tool_choice" not in params


def test_json_object_with_thinking_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="needs a schema"):
        to_anthropic_params(
            MODEL,
            request(
                ("user", "x"),
                response_format={"type": "json_object"},
                options={"thinking": {"type": "enabled", "budget_tokens": 2048}},
            ),
        )


def test_text_response_format_sends_nothing_extra() -> None:
    params = to_anthropic_params(MODEL, request(("user", "x"), response_format={"type": "text"}))
    assert "tools" not in params and "output_config" not in params


# -- replies --------------------------------------------------------------------------------


def test_reply_text_joins_text_blocks_without_thinking() -> None:
    body = wire.anthropic_message(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello, "},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "text", "text": "world."},
        ]
    )
    reply = from_anthropic_message(body, model=MODEL)
    assert reply.content == "Hello, world."
    assert reply.provider == "anthropic"
    assert reply.model == "claude-sonnet-4-5"  # as reported
    assert reply.finish_reason == "stop"
    assert reply.raw is body


def test_tool_use_blocks_become_tool_calls() -> None:
    body = wire.anthropic_message(
        [
            {"type": "text", "text": "Looking it up."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
        ],
        stop_reason="tool_use",
    )
    reply = from_anthropic_message(body, model=MODEL)
    assert reply.tool_calls == [ToolCall(id="toolu_1", name="lookup", arguments={"q": "x"})]
    assert reply.finish_reason == "tool_calls"
    assert reply.content == "Looking it up."


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "other"),
        (None, None),
    ],
)
def test_finish_reasons(stop_reason: str | None, expected: str | None) -> None:
    assert to_finish_reason(stop_reason) == expected


def test_refusal_has_empty_content_and_a_refusal_message() -> None:
    body = wire.anthropic_message([], stop_reason="refusal")
    reply = from_anthropic_message(body, model=MODEL)
    assert reply.content == ""
    assert reply.finish_reason == "content_filter"
    assert reply.refusal and "declined" in reply.refusal
    body["stop_details"] = {"type": "refusal", "category": "cyber", "explanation": "Not this."}
    assert from_anthropic_message(body, model=MODEL).refusal == "Not this."


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    body = wire.anthropic_message(
        "x",
        input_tokens=10,
        output_tokens=7,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=1000,
    )
    assert from_anthropic_message(body, model=MODEL).usage == Usage(
        prompt_tokens=1110,
        completion_tokens=7,
        total_tokens=1117,
        cached_tokens=1000,
        cache_write_tokens=100,
    )


def test_usage_with_thinking_details_and_missing_cache_fields() -> None:
    usage = {
        "input_tokens": 3,
        "output_tokens": 50,
        "output_tokens_details": {"thinking_tokens": 40},
    }
    assert to_usage(usage) == Usage(
        prompt_tokens=3, completion_tokens=50, total_tokens=53, reasoning_tokens=40
    )
    assert to_usage(None) is None


def test_json_mode_reply_is_the_tool_input_as_json_text() -> None:
    body = wire.anthropic_message(
        [{"type": "tool_use", "id": "toolu_1", "name": JSON_TOOL_NAME, "input": {"name": "Zoë"}}],
        stop_reason="tool_use",
    )
    reply = from_anthropic_message(body, model=MODEL, json_mode=True)
    assert json.loads(reply.content) == {"name": "Zoë"}
    assert reply.finish_reason == "stop"
    assert reply.tool_calls == []


def test_json_mode_cut_at_max_tokens_has_no_content() -> None:
    body = wire.anthropic_message(
        [{"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {}}],
        stop_reason="max_tokens",
    )
    reply = from_anthropic_message(body, model=MODEL, json_mode=True)
    assert (reply.content, reply.finish_reason) == ("", "length")


def test_json_output_tool_outside_json_mode_is_an_ordinary_tool_call() -> None:
    body = wire.anthropic_message(
        [{"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {"a": 1}}],
        stop_reason="tool_use",
    )
    assert from_anthropic_message(body, model=MODEL).tool_calls[0].name == JSON_TOOL_NAME


@pytest.mark.parametrize("body", ["not json", {"foo": 1}, {"type": "message", "role": "assistant"}])
def test_malformed_replies_raise_value_error(body: Any) -> None:
    with pytest.raises(ValueError):
        from_anthropic_message(body, model=MODEL)


# -- streams --------------------------------------------------------------------------------


def feed_all(state: StreamState, events: list[Any]) -> list[ChatChunk]:
    chunks = [state.feed(e) for e in events if isinstance(e, dict)]
    # The wire builder writes message_stop verbatim (with trailing spaces): feed it as a dict.
    if any(isinstance(e, str) and "message_stop" in e for e in events):
        chunks.append(state.feed({"type": "message_stop"}))
    return [c for c in chunks if c is not None]


def test_stream_events_give_text_deltas_then_finish_and_usage() -> None:
    events = wire.anthropic_events(["Hel", "lo"], stop_reason="max_tokens", output_tokens=2).events
    state = StreamState()
    chunks = feed_all(state, events)
    assert [c.delta for c in chunks[:-1]] == ["Hel", "lo"]
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage == Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    assert state.finished


def test_stream_skips_thinking_and_caller_tool_arguments() -> None:
    events = wire.anthropic_events(
        [
            {"type": "thinking", "thinking": "let me think", "signature": "s"},
            {"type": "text", "text": "Answer"},
            {"type": "tool_use", "name": "lookup", "input": {"q": "x"}},
        ],
        stop_reason="tool_use",
    ).events
    chunks = feed_all(StreamState(), events)
    assert "".join(c.delta for c in chunks) == "Answer"
    assert chunks[-1].finish_reason == "tool_calls"


def test_stream_in_json_mode_yields_the_json_tool_arguments() -> None:
    events = wire.anthropic_events(
        [{"type": "tool_use", "name": JSON_TOOL_NAME, "input": {"name": "Ada"}}],
        stop_reason="tool_use",
    ).events
    chunks = feed_all(StreamState(json_mode=True), events)
    assert json.loads("".join(c.delta for c in chunks)) == {"name": "Ada"}
    assert chunks[-1].finish_reason == "stop"


def test_stream_without_message_stop_is_not_finished() -> None:
    events = wire.anthropic_events("Hello").events[:-1]
    state = StreamState()
    feed_all(state, events)
    assert not state.finished
