"""The fake provider: scripted, recorded, deterministic, honest about JSON mode."""

from __future__ import annotations

import asyncio

import pytest

from persona_llm import ChatResponse, InvalidRequestError, RateLimitError, ResponseParseError
from persona_llm.clients import AsyncChatClient, ChatClient, EmbeddingClient
from persona_llm.messages import to_messages
from persona_llm.providers.fake import FakeProvider, FakeScriptExhaustedError, fake_vector
from persona_llm.testing import FakeChatClient
from persona_llm.types import ChatRequest

HI = [{"role": "user", "content": "hi there"}]


def test_scripted_replies_are_used_in_order_then_exhausted() -> None:
    client = FakeChatClient(["one", "two"])
    assert [client.chat(HI).content for _ in range(2)] == ["one", "two"]
    with pytest.raises(FakeScriptExhaustedError, match="enqueue"):
        client.chat(HI)


def test_reply_function_sees_the_messages() -> None:
    client = FakeChatClient(lambda messages: messages[-1].content.upper())
    assert client.chat(HI).content == "HI THERE"


def test_calls_are_recorded_with_options() -> None:
    client = FakeChatClient()
    client.chat(HI, temperature=0.2, stop="END", seed=7)
    request = client.last_request
    assert (request.temperature, request.stop, dict(request.options)) == (
        0.2,
        ("END",),
        {"seed": 7},
    )
    assert client.calls[0].kind == "chat"


def test_scripted_errors_are_raised() -> None:
    client = FakeChatClient([RateLimitError("slow down", provider="fake", retry_after=2)])
    with pytest.raises(RateLimitError) as info:
        client.chat(HI)
    assert info.value.retry_after == 2 and info.value.retryable


def test_scripted_chat_response_is_returned_as_is() -> None:
    canned = ChatResponse(content="c", model="m", provider="fake", finish_reason="length")
    assert FakeChatClient([canned]).chat(HI) is canned


def test_json_mode_checks_scripted_json() -> None:
    json_mode = {"type": "json_object"}
    assert FakeChatClient([{"a": 1}]).chat(HI, response_format=json_mode).content == '{"a": 1}'
    with pytest.raises(ResponseParseError, match="not valid JSON") as info:
        FakeChatClient(["Sure! here"]).chat(HI, response_format=json_mode, max_reasks=0)
    assert info.value.raw_text == "Sure! here"
    sloppy = FakeChatClient(["Sure! here"], strict_json=False)
    request = ChatRequest(messages=to_messages(HI), response_format=json_mode)
    assert sloppy.fake.chat("fake", request).content == "Sure! here"


def test_echo_mode_in_json_mode_returns_json() -> None:
    reply = FakeChatClient().chat(HI, response_format={"type": "json_object"})
    assert reply.content == '{"echo": "hi there"}'


def test_max_tokens_truncates_with_length_finish() -> None:
    reply = FakeChatClient(["a b c d e"]).chat(HI, max_tokens=2)
    assert (reply.content, reply.finish_reason) == ("a b", "length")
    assert reply.usage is not None and reply.usage.completion_tokens == 2


def test_stream_yields_words_then_a_final_chunk() -> None:
    chunks = list(ChatClient(FakeProvider(["one two three"]), "m").stream(HI))
    assert "".join(c.delta for c in chunks) == "one two three"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None


def test_async_stream_matches_blocking_stream() -> None:
    async def collect() -> str:
        client = AsyncChatClient(FakeProvider(["one two"]), "m")
        return "".join([c.delta async for c in client.stream(HI)])

    assert asyncio.run(collect()) == "one two"


def test_embeddings_are_deterministic_unit_vectors() -> None:
    client = EmbeddingClient(FakeProvider(embedding_dimensions=12), "m")
    first, second, again = client.embeddings(["alpha", "beta", "alpha"])
    assert first == again != second
    assert len(first) == 12 and abs(sum(v * v for v in first) - 1) < 1e-9
    assert first == fake_vector("alpha", 12)


def test_empty_embedding_input_makes_no_call() -> None:
    fake = FakeProvider()
    assert EmbeddingClient(fake, "m").embeddings([]) == []
    assert fake.calls == []


def test_single_string_to_embeddings_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="list of texts"):
        EmbeddingClient(FakeProvider(), "m").embeddings("alpha")


def test_bad_options_are_rejected_before_the_call() -> None:
    client = FakeChatClient()
    with pytest.raises(InvalidRequestError, match="max_tokens"):
        client.chat(HI, max_tokens=0)
    with pytest.raises(InvalidRequestError, match="response_format"):
        client.chat(HI, response_format={"type": "yaml"})
    assert client.calls == []


def test_compatibility_methods() -> None:
    client = FakeChatClient(model="m")
    assert client.get_provider_name() == "fake" == client.provider
    assert client.supports_json_mode() and client.supports_embeddings()
    assert client.capabilities.streaming
