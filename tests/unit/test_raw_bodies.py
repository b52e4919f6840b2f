"""The dict mappers on JSON bodies as the providers send them (the adapters' raw-response path).

Awkward real shapes first (``content: null`` with tool calls, a refusal, no ``usage``, fields
the SDK does not know, Anthropic thinking + text + tool_use blocks, ``stop_reason: null`` in
``message_start``), then the SSE line reader, `RawReply`, and a property test: for generated
valid bodies the mapper gives the same `ChatResponse` from the JSON dict as from the SDK's
model built the way the SDK builds it.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

from anthropic.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from persona_llm.providers._raw import RawReply, SSELines, wire_body
from persona_llm.providers.anthropic.mapping import from_anthropic_message
from persona_llm.providers.anthropic.stream import StreamState
from persona_llm.providers.openai.mapping import from_openai_completion
from persona_llm.providers.openai.stream import OpenAIStreamState
from persona_llm.types import ToolCall, Usage

# A gpt-4o reply that only calls a tool, as recorded (content null, annotations, service_tier).
OPENAI_TOOL_CALL = json.loads("""{
  "id": "chatcmpl-CXa1", "object": "chat.completion", "created": 1761830000,
  "model": "gpt-4o-2024-08-06", "service_tier": "default", "system_fingerprint": "fp_cbf1785567",
  "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
    "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
      "tool_calls": [{"id": "call_9pRk", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}"}}]}}],
  "usage": {"prompt_tokens": 61, "completion_tokens": 16, "total_tokens": 77,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
}""")

OPENAI_REFUSAL = {
    "id": "chatcmpl-r",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
        }
    ],
}

# An Azure reply: content filter results everywhere, no usage, an unknown future field.
AZURE_NO_USAGE = {
    "id": "chatcmpl-az",
    "object": "chat.completion",
    "created": 2,
    "model": "gpt-4o-mini",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    "obfuscation": "x1",
    "choices": [
        {
            "index": 0,
            "finish_reason": "length",
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
            "message": {"role": "assistant", "content": "Partial", "brand_new_field": [1]},
        }
    ],
}

# Claude with extended thinking, then text, then a tool call.
ANTHROPIC_THINKING = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCkYI"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 120,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30,
        "output_tokens": 88,
        "service_tier": "standard",
    },
}


def test_content_null_with_tool_calls() -> None:
    reply = from_openai_completion(OPENAI_TOOL_CALL, provider="openai", model="gpt-4o")
    assert reply.content == ""
    assert reply.tool_calls == [
        ToolCall(id="call_9pRk", name="get_weather", arguments={"city": "Paris"})
    ]
    assert reply.finish_reason == "tool_calls"
    assert reply.model == "gpt-4o-2024-08-06"
    assert reply.usage == Usage(prompt_tokens=61, completion_tokens=16, total_tokens=77)


def test_refusal_without_content() -> None:
    reply = from_openai_completion(OPENAI_REFUSAL, provider="openai", model="gpt-4o")
    assert (reply.content, reply.refusal, reply.finish_reason) == ("", "I can't help.", "stop")


def test_no_usage_and_unknown_fields() -> None:
    reply = from_openai_completion(AZURE_NO_USAGE, provider="azure", model="dep")
    assert (reply.content, reply.finish_reason, reply.usage) == ("Partial", "length", None)


def test_anthropic_thinking_text_and_tool_use() -> None:
    reply = from_anthropic_message(ANTHROPIC_THINKING, model="claude")
    assert reply.content == "Let me check."
    assert reply.finish_reason == "tool_calls"
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_01", "get_weather", {"city": "Oslo"})
    thinking = call.provider_data["anthropic"]["thinking"]
    assert thinking == [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCkYI"}
    ]
    assert reply.usage == Usage(
        prompt_tokens=150, completion_tokens=88, total_tokens=238, cached_tokens=30
    )


def test_anthropic_stream_with_null_stop_reason_in_message_start() -> None:
    start = {**ANTHROPIC_THINKING, "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {**start, "usage": {"input_tokens": 9, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    ]
    state = StreamState(model="claude")
    chunks = [chunk for event in events if (chunk := state.feed(event)) is not None]
    assert [chunk.delta for chunk in chunks] == ["Hi", ""]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == Usage(prompt_tokens=9, completion_tokens=4, total_tokens=13)


def test_openai_stream_events_as_dicts_and_as_sdk_chunks_agree() -> None:
    events = [
        {
            "id": "",
            "object": "",
            "created": 0,
            "model": "",
            "choices": [],
            "prompt_filter_results": [],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "f", "arguments": ""},
                            }
                        ],
                    },
                }
            ],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]},
                }
            ],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"refusal": "no"}, "finish_reason": "stop"}],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    ]
    as_dicts, as_models = OpenAIStreamState("azure", "dep"), OpenAIStreamState("azure", "dep")
    from_dicts = [as_dicts.feed(event) for event in events] + [as_dicts.final_chunk()]
    models = [ChatCompletionChunk.model_construct(**event) for event in events]
    from_models = [as_models.feed(event) for event in models] + [as_models.final_chunk()]
    assert from_dicts == from_models
    last = from_dicts[-1]
    assert last is not None and last.model == "gpt-4o" and last.finish_reason == "tool_calls"
    assert last.tool_calls == [ToolCall(id="call_1", name="f", arguments={"a": 1})]


# -- SSE lines ------------------------------------------------------------------------------


def feed_lines(text: str) -> list[tuple[str | None, str]]:
    reader = SSELines()
    return [sse for line in text.splitlines() if (sse := reader.feed(line)) is not None]


def test_sse_lines_follow_the_event_stream_rules() -> None:
    text = (
        ": keep-alive\n\n"
        'event: message_start\ndata: {"a": 1}   \n\n'
        "data:no-space\n\n"
        "data: one\ndata: two\nid: 7\n\n"
        "event:\ndata: x\n\n"
        "data: never finished"
    )
    assert feed_lines(text) == [
        ("message_start", '{"a": 1}   '),
        (None, "no-space"),
        (None, "one\ntwo"),
        (None, "x"),
    ]


# -- RawReply -------------------------------------------------------------------------------


def test_raw_reply_is_the_dict_and_builds_the_sdk_model_on_attribute_access() -> None:
    raw = RawReply(OPENAI_TOOL_CALL, ChatCompletion)
    assert raw == OPENAI_TOOL_CALL and raw["model"] == "gpt-4o-2024-08-06"
    assert raw._model is None  # nothing built yet
    assert raw.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert isinstance(raw.sdk_model(), ChatCompletion) and raw.sdk_model() is raw.sdk_model()
    assert raw.model_dump()["usage"]["total_tokens"] == 77
    for copied in (pickle.loads(pickle.dumps(raw)), copy.deepcopy(raw)):
        assert copied == raw and copied.choices[0].finish_reason == "tool_calls"


def test_raw_stays_out_of_equality_and_repr() -> None:
    on_raw_path = from_openai_completion(
        RawReply(OPENAI_TOOL_CALL, ChatCompletion), provider="openai", model="gpt-4o"
    )
    from_model = from_openai_completion(
        ChatCompletion.model_construct(**OPENAI_TOOL_CALL), provider="openai", model="gpt-4o"
    )
    assert on_raw_path == from_model
    assert "raw" not in repr(on_raw_path) and "raw" not in on_raw_path.model_dump()


def test_wire_body_of_an_sdk_model_keeps_nulls_and_leaves_out_unsent_fields() -> None:
    model = ChatCompletion.model_construct(**OPENAI_REFUSAL)
    assert wire_body(model) == OPENAI_REFUSAL
    assert wire_body("<html>") == "<html>"


# -- property: the dict and the SDK model give the same reply --------------------------------

texts = st.text(max_size=20)
maybe = st.none() | st.integers(0, 10_000)
arguments = st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | texts, max_size=3)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def openai_bodies(draw: st.DrawFn) -> dict[str, Any]:
    calls = draw(st.lists(st.tuples(names, arguments), max_size=3))
    message: dict[str, Any] = {"role": "assistant"}
    message["content"] = draw(st.none() if calls else texts | st.none())
    if draw(st.booleans()):
        message["refusal"] = draw(st.none() | texts)
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
    if not (calls or "content" in message or message.get("refusal")):
        message["content"] = ""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": draw(st.sampled_from(["gpt-4o", "", "gpt-5-mini"])),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": draw(
                    st.none()
                    | st.sampled_from(["stop", "length", "tool_calls", "content_filter", "new"])
                ),
            }
        ],
    }
    if draw(st.booleans()):
        usage: dict[str, Any] = {
            "prompt_tokens": draw(maybe),
            "completion_tokens": draw(maybe),
            "total_tokens": draw(maybe),
        }
        if draw(st.booleans()):
            usage["completion_tokens_details"] = {"reasoning_tokens": draw(maybe)}
            usage["prompt_tokens_details"] = {"cached_tokens": draw(maybe)}
        body["usage"] = usage
    if draw(st.booleans()):
        body["service_tier"] = draw(texts)  # fields come and go
    return body


@st.composite
def anthropic_bodies(draw: st.DrawFn) -> dict[str, Any]:
    block = st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, texts),
        st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s}, texts, texts),
        st.builds(lambda d: {"type": "redacted_thinking", "data": d}, texts),
        st.builds(
            lambda i, n, a: {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a},
            st.integers(0, 99),
            names,
            arguments,
        ),
    )
    usage: dict[str, Any] = {
        "input_tokens": draw(st.integers(0, 999)),
        "output_tokens": draw(st.integers(0, 999)),
    }
    for name in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if draw(st.booleans()):
            usage[name] = draw(maybe)
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": draw(st.sampled_from(["claude-sonnet-4-6", ""])),
        "content": draw(st.lists(block, max_size=4)),
        "stop_reason": draw(
            st.none()
            | st.sampled_from(
                ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]
            )
        ),
        "stop_sequence": None,
        "usage": usage,
    }


@settings(max_examples=150, deadline=None)
@given(body=openai_bodies())
def test_openai_dict_and_sdk_model_give_equal_replies(body: dict[str, Any]) -> None:
    from_dict = from_openai_completion(RawReply(body, ChatCompletion), provider="openai", model="m")
    from_model = from_openai_completion(
        ChatCompletion.model_construct(**copy.deepcopy(body)), provider="openai", model="m"
    )
    assert from_dict == from_model
    assert from_dict.model_dump() == from_model.model_dump()


@settings(max_examples=150, deadline=None)
@given(body=anthropic_bodies(), json_mode=st.booleans())
def test_anthropic_dict_and_sdk_model_give_equal_replies(
    body: dict[str, Any], json_mode: bool
) -> None:
    from_dict = from_anthropic_message(RawReply(body, Message), model="m", json_mode=json_mode)
    from_model = from_anthropic_message(
        Message.model_construct(**copy.deepcopy(body)), model="m", json_mode=json_mode
    )
    assert from_dict == from_model
    assert from_dict.model_dump() == from_model.model_dump()


def test_request_parts_moves_create_options_out_of_the_body() -> None:
    from persona_llm.providers._raw import request_parts

    params = {
        "model": "m",
        "messages": [],
        "extra_headers": {"x-a": "1"},
        "extra_query": None,
        "extra_body": {"top_k": 3},
        "timeout": None,
    }
    body, options = request_parts(params)
    assert body == {"model": "m", "messages": []}
    assert options == {"headers": {"x-a": "1"}, "extra_json": {"top_k": 3}, "timeout": None}
    assert "extra_headers" in params  # the caller's dict is left alone
