"""The Responses stream assembler against realistic event sequences (the emulator's)."""

from __future__ import annotations

from typing import Any

import pytest

from persona_llm.errors import ProviderUnavailableError, RateLimitError
from persona_llm.features.streaming import collect_stream
from persona_llm.providers.openai.responses_stream import ResponsesStreamState
from persona_llm.testing import wire
from persona_llm.types import ChatChunk, Usage


def run(events: list[dict[str, Any]], model: str = "gpt-4o-mini") -> list[ChatChunk]:
    state = ResponsesStreamState("openai", model)
    chunks = [chunk for event in events if (chunk := state.feed(event)) is not None]
    return [*chunks, state.final_chunk()]


def test_text_streams_as_deltas_and_the_last_chunk_has_usage() -> None:
    usage = wire.responses_usage(7, 3, cached_tokens=2)
    events = wire.openai_response_events(["Hel", "lo ", "there"], usage=usage).events
    chunks = run(events)
    assert [c.delta for c in chunks[:-1]] == ["Hel", "lo ", "there"]
    last = chunks[-1]
    assert last.finish_reason == "stop"
    assert last.usage == Usage(
        prompt_tokens=7, completion_tokens=3, total_tokens=10, cached_tokens=2
    )
    assert last.model == "gpt-4o-mini" and last.provider == "openai"
    assert collect_stream(iter(chunks)).content == "Hello there"


def test_parallel_function_calls_are_assembled_with_their_reasoning() -> None:
    events = wire.openai_response_events(
        [],
        model="o3",
        reasoning=[wire.reasoning_item("plan", encrypted_content="ENC")],
        tool_calls=[
            {"id": "call_a", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_b", "name": "get_time", "arguments": {"zone": "CET"}},
        ],
    ).events
    kinds = [event["type"] for event in events]
    assert kinds.count("response.function_call_arguments.delta") >= 2
    last = run(events, "o3")[-1]
    assert last.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in last.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_time", {"zone": "CET"}),
    ]
    [reasoning] = last.tool_calls[0].provider_data["openai"]["reasoning"]
    assert reasoning["encrypted_content"] == "ENC"


def test_calls_are_assembled_from_the_events_when_the_terminal_response_has_no_output() -> None:
    events = wire.openai_response_events(
        [], tool_calls=[{"id": "call_a", "name": "get_weather", "arguments": {"city": "Oslo"}}]
    ).events
    events[-1]["response"]["output"] = []
    # Only the "added" event and the argument deltas: the "done" item is missing.
    events = [e for e in events if e["type"] != "response.output_item.done"]
    last = run(events)[-1]
    assert [(c.id, c.arguments) for c in last.tool_calls] == [("call_a", {"city": "Oslo"})]


def test_a_refusal_streams_as_refusal_pieces() -> None:
    events = wire.openai_response_events([], content=None, refusal="I can't help.").events
    chunks = run(events)
    assert "".join(c.refusal for c in chunks) == "I can't help."
    assert all(c.delta == "" for c in chunks)
    assert collect_stream(iter(chunks)).refusal == "I can't help."


def test_an_error_event_mid_stream_raises_after_the_text_so_far() -> None:
    events = wire.openai_response_events(
        ["one ", "two ", "three"],
        error_after=6,
        error_event={"code": "rate_limit_exceeded", "message": "Rate limit reached."},
    ).events
    state = ResponsesStreamState("openai", "gpt-4o-mini")
    seen: list[str] = []
    with pytest.raises(RateLimitError, match="Rate limit reached"):
        for event in events:
            if chunk := state.feed(event):
                seen.append(chunk.delta)
    assert seen == ["one ", "two "]


def test_a_failed_response_raises() -> None:
    failure = {"code": "server_error", "message": "The server had an error."}
    events = wire.openai_response_events(["x"], status="failed", error=failure).events
    assert events[-1]["type"] == "response.failed"
    with pytest.raises(ProviderUnavailableError, match="server had an error"):
        run(events)


def test_an_incomplete_response_for_max_output_tokens_finishes_with_length() -> None:
    events = wire.openai_response_events(
        ["cut sh"], status="incomplete", incomplete_reason="max_output_tokens"
    ).events
    assert events[-1]["type"] == "response.incomplete"
    last = run(events)[-1]
    assert last.finish_reason == "length"


def test_a_stream_without_a_terminal_event_is_an_error() -> None:
    events = wire.openai_response_events(["a", "b"]).events[:-1]
    with pytest.raises(ProviderUnavailableError, match="ended early"):
        run(events)


def test_unknown_events_are_ignored() -> None:
    events = wire.openai_response_events(["ok"]).events
    events.insert(2, {"type": "response.some_future_event", "sequence_number": 99})
    assert collect_stream(iter(run(events))).content == "ok"


def test_reasoning_summaries_stream_apart_from_the_text() -> None:
    first = wire.reasoning_item("Plan A.", encrypted_content="ENC")
    first["summary"].append({"type": "summary_text", "text": "Then B."})
    events = wire.openai_response_events(["Done."], model="o4-mini", reasoning=[first]).events
    chunks = run(events, "o4-mini")
    reply = collect_stream(iter(chunks))
    assert reply.content == "Done."
    assert reply.reasoning == "Plan A.\n\nThen B."
    assert all(not (c.delta and c.reasoning) for c in chunks)
    # The text's reasoning and id travel in the reply's provider data, as from chat().
    data = reply.provider_data["openai"]
    assert data["reasoning"][0]["encrypted_content"] == "ENC"
    assert data["message_id"] == events[-1]["response"]["output"][1]["id"]
