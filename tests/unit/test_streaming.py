"""collect_stream / acollect_stream give the ChatResponse that chat() gives."""

from __future__ import annotations

import pytest

from persona_llm import ChatChunk, ChatResponse, InvalidRequestError, ToolCall, Usage
from persona_llm.features.streaming import acollect_stream, collect_stream
from persona_llm.testing import FakeChatClient

ASK = [{"role": "user", "content": "Hi"}]
CALL = ToolCall(id="c1", name="lookup", arguments={"q": "x"})


def test_a_text_stream_collects_to_the_chat_reply() -> None:
    client = FakeChatClient(["Hello there world", "Hello there world"])
    assert collect_stream(client.stream(ASK)) == client.chat(ASK)


def test_tool_calls_and_refusals_are_collected() -> None:
    refused = ChatResponse(
        model="fake", provider="fake", refusal="I can't.", finish_reason="content_filter"
    )
    client = FakeChatClient([[CALL], refused])
    tools = [{"name": "lookup"}]
    collected = collect_stream(client.stream(ASK, tools=tools))
    assert (collected.tool_calls, collected.finish_reason) == ([CALL], "tool_calls")
    assert collect_stream(client.stream(ASK)) == refused


def test_hand_made_chunks_need_the_provider_and_model() -> None:
    chunks = [ChatChunk(delta="a"), ChatChunk(refusal="no"), ChatChunk(delta="b")]
    with pytest.raises(InvalidRequestError, match="provider= and model="):
        collect_stream(chunks)
    reply = collect_stream(chunks, provider="custom", model="m1")
    assert (reply.content, reply.refusal, reply.provider, reply.model) == (
        "ab",
        "no",
        "custom",
        "m1",
    )
    assert reply.finish_reason is None and reply.usage is None


def test_what_the_chunks_report_wins_over_the_fallbacks() -> None:
    last = ChatChunk(finish_reason="stop", usage=Usage(prompt_tokens=1), model="m2", provider="p")
    reply = collect_stream([ChatChunk(delta="x"), last], provider="other", model="other")
    assert (reply.provider, reply.model, reply.refusal) == ("p", "m2", None)
    assert reply.usage == Usage(prompt_tokens=1, total_tokens=1)


async def test_acollect_stream_is_the_asyncio_twin() -> None:
    from persona_llm.clients import AsyncChatClient
    from persona_llm.testing import FakeProvider

    fake = FakeProvider(["One two", [CALL]])
    client = AsyncChatClient(fake, "fake")
    text = await acollect_stream(client.stream(ASK))
    assert (text.content, text.finish_reason, text.provider) == ("One two", "stop", "fake")
    calls = await acollect_stream(client.stream(ASK, tools=[{"name": "lookup"}]))
    assert calls.tool_calls == [CALL]
