"""The OpenAI Responses transport through the real ``openai`` SDK, over real HTTP, against the
emulator's ``/v1/responses`` route: blocking, asyncio and streaming, with the same results as
Chat Completions, and a tool conversation on a reasoning model that sends its encrypted
reasoning back on every later turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.errors import (
    AuthenticationError,
    InvalidRequestError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.facades import get_chat_client
from persona_llm.features.streaming import collect_stream
from persona_llm.features.tools import arun_tools, run_tools
from persona_llm.providers import build_adapter
from persona_llm.providers.openai.adapter import OpenAIAdapter
from persona_llm.reliability.retry import RetryingAdapter
from persona_llm.testing import use_emulator, wire
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.emulator import ProviderEmulator, RecordedRequest, Reply
from persona_llm.types import Usage

HI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]


@pytest.fixture(scope="module")
def shared(emulator: ProviderEmulator) -> Iterator[OpenAIAdapter]:
    adapter = build_adapter(emulator.config_for("openai", api="auto"))
    assert isinstance(adapter, OpenAIAdapter)
    yield adapter
    adapter.close()
    adapter._client.close()


@pytest.fixture
def client(shared: OpenAIAdapter, emu: ProviderEmulator) -> ChatClient:
    return ChatClient(shared, "gpt-4o-mini")


@pytest.fixture
async def aclient(shared: OpenAIAdapter, emu: ProviderEmulator) -> AsyncIterator[AsyncChatClient]:
    yield AsyncChatClient(shared, "gpt-4o-mini")
    await shared.aclose()


def body(request: RecordedRequest) -> dict[str, Any]:
    assert request.path == "/v1/responses"
    assert isinstance(request.json, dict)
    return request.json


# -- plain calls ----------------------------------------------------------------------------


def test_blocking_text_on_responses(client: ChatClient, emu: ProviderEmulator) -> None:
    usage = wire.responses_usage(9, 4, cached_tokens=3)
    emu.enqueue("openai", Reply(wire.openai_response("Hi!", model="gpt-4o-mini-2024", usage=usage)))
    reply = client.chat(HI, openai_api="responses", max_tokens=50)
    assert reply.content == "Hi!"
    assert reply.model == "gpt-4o-mini-2024"
    assert reply.finish_reason == "stop"
    assert reply.usage == Usage(
        prompt_tokens=9, completion_tokens=4, total_tokens=13, cached_tokens=3
    )
    sent = body(emu.last_request("openai"))
    assert sent["store"] is False
    assert sent["max_output_tokens"] == 50
    assert sent["input"][0] == {"role": "system", "content": "Be brief."}
    assert "openai_api" not in sent


def test_the_same_reply_on_both_transports(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("Hi!")), Reply(wire.openai_response("Hi!")))
    by_chat = client.chat(HI, openai_api="chat")
    by_responses = client.chat(HI, openai_api="responses")
    assert [r.path for r in emu.requests] == ["/v1/chat/completions", "/v1/responses"]
    assert by_chat == by_responses


async def test_asyncio_text_on_responses(aclient: AsyncChatClient, emu: ProviderEmulator) -> None:
    reply = await aclient.chat(HI, openai_api="responses")
    assert reply.content == "echo: Say hi"
    body(emu.last_request("openai"))


def test_streaming_text_with_usage_on_the_last_chunk(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    usage = wire.responses_usage(5, 3)
    emu.enqueue("openai", wire.openai_response_events(["Hel", "lo"], usage=usage))
    chunks = list(client.stream(HI, openai_api="responses"))
    assert [c.delta for c in chunks[:-1]] == ["Hel", "lo"]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8)
    assert body(emu.last_request("openai"))["stream"] is True


async def test_asyncio_streaming(aclient: AsyncChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", wire.openai_response_events(["a", "b", "c"]))
    chunks = [chunk async for chunk in aclient.stream(HI, openai_api="responses")]
    assert "".join(c.delta for c in chunks) == "abc"
    assert chunks[-1].finish_reason == "stop"


def test_a_refusal(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply(wire.openai_response(None, refusal="I can't help with that.")))
    reply = client.chat(HI, openai_api="responses")
    assert (reply.content, reply.refusal) == ("", "I can't help with that.")


def test_max_output_tokens_reached_is_length(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "openai",
        Reply(wire.openai_response("", status="incomplete", incomplete_reason="max_output_tokens")),
    )
    assert client.chat(HI, openai_api="responses").finish_reason == "length"


# -- JSON -----------------------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int


def test_response_model_uses_text_format_json_schema(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    data = {"name": "Oslo", "population": 700000}
    emu.enqueue("openai", Reply(wire.openai_response(json.dumps(data))))
    reply = client.chat(HI, response_model=City, openai_api="responses")
    assert reply.parsed == City(**data)
    text_format = body(emu.last_request("openai"))["text"]["format"]
    assert text_format["type"] == "json_schema"
    assert text_format["name"] == "City"
    assert text_format["schema"]["properties"]["population"]["type"] == "integer"


def test_json_mode(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", Reply(wire.openai_response('{"ok": true}')))
    reply = client.chat(HI, response_format={"type": "json_object"}, openai_api="responses")
    assert json.loads(reply.content) == {"ok": True}
    assert body(emu.last_request("openai"))["text"] == {"format": {"type": "json_object"}}


# -- a tool conversation on a reasoning model -----------------------------------------------

CALLS: list[str] = []


def get_weather(city: str) -> str:
    """Current weather of a city."""
    CALLS.append(city)
    return {"Paris": "sunny", "Rome": "rain"}.get(city, "fog")


def three_turns() -> list[Any]:
    """Turn 1: two parallel calls; turn 2: one more call; turn 3: the answer. Each turn has
    its own encrypted reasoning item."""
    return [
        Reply(
            wire.openai_response(
                None,
                model="o4-mini",
                reasoning=[wire.reasoning_item("Need both.", encrypted_content="ENC-1")],
                tool_calls=[
                    {"id": "call_p", "name": "get_weather", "arguments": {"city": "Paris"}},
                    {"id": "call_r", "name": "get_weather", "arguments": {"city": "Rome"}},
                ],
                usage=wire.responses_usage(40, 90, reasoning_tokens=64),
            )
        ),
        Reply(
            wire.openai_response(
                None,
                model="o4-mini",
                reasoning=[wire.reasoning_item(encrypted_content="ENC-2")],
                tool_calls=[{"id": "call_o", "name": "get_weather", "arguments": {"city": "Oslo"}}],
            )
        ),
        Reply(
            wire.openai_response(
                "Paris is sunny, Rome rainy, Oslo foggy.",
                model="o4-mini",
                reasoning=[wire.reasoning_item(encrypted_content="ENC-3")],
            )
        ),
    ]


def check_three_turns(emu: ProviderEmulator) -> None:
    first, second, third = (body(r) for r in emu.requests_for("openai"))
    for sent in (first, second, third):
        assert sent["store"] is False
        assert sent["include"] == ["reasoning.encrypted_content"]
        assert sent["tools"][0]["name"] == "get_weather"
    assert [i.get("type", i.get("role")) for i in second["input"]] == [
        "user",
        "reasoning",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
    ]
    assert second["input"][1]["encrypted_content"] == "ENC-1"
    # the call after the reasoning goes back with its output item id, which pairs them
    assert second["input"][2]["id"].startswith("fc_")
    assert "id" not in second["input"][3]
    kinds = [i.get("type", i.get("role")) for i in third["input"]]
    assert kinds == [
        "user",
        *("reasoning", "function_call", "function_call"),
        *("function_call_output", "function_call_output"),
        *("reasoning", "function_call", "function_call_output"),
    ]
    encrypted = [i["encrypted_content"] for i in third["input"] if i.get("type") == "reasoning"]
    assert encrypted == ["ENC-1", "ENC-2"]
    outputs = {i["call_id"]: i["output"] for i in third["input"] if "output" in i}
    assert outputs == {"call_p": "sunny", "call_r": "rain", "call_o": "fog"}


def test_three_turn_tool_conversation_on_a_reasoning_model(
    shared: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    # No transport named: auto picks Responses because o4-mini reasons and tools are given.
    emu.enqueue("openai", *three_turns())
    CALLS.clear()
    reply = run_tools(
        ChatClient(shared, "o4-mini"), [{"role": "user", "content": "Weather?"}], [get_weather]
    )
    assert reply.content == "Paris is sunny, Rome rainy, Oslo foggy."
    assert CALLS == ["Paris", "Rome", "Oslo"]
    check_three_turns(emu)


async def test_three_turn_tool_conversation_asyncio(
    shared: OpenAIAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", *three_turns())
    reply = await arun_tools(
        AsyncChatClient(shared, "o4-mini"), [{"role": "user", "content": "Weather?"}], [get_weather]
    )
    await shared.aclose()
    assert reply.finish_reason == "stop"
    check_three_turns(emu)


def test_streamed_parallel_calls_keep_their_reasoning(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "openai",
        wire.openai_response_events(
            [],
            model="o3",
            reasoning=[wire.reasoning_item(encrypted_content="ENC")],
            tool_calls=[
                {"id": "call_a", "name": "get_weather", "arguments": {"city": "Paris"}},
                {"id": "call_b", "name": "get_weather", "arguments": {"city": "Rome"}},
            ],
        ),
    )
    reply = collect_stream(ChatClient(client.adapter, "o3").stream(HI, tools=[get_weather]))
    assert reply.finish_reason == "tool_calls"
    assert [c.arguments["city"] for c in reply.tool_calls] == ["Paris", "Rome"]
    assert reply.tool_calls[0].provider_data["openai"]["reasoning"][0]["encrypted_content"] == "ENC"


# -- errors and retries ---------------------------------------------------------------------


def test_http_errors_map_as_on_chat_completions(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "openai",
        Reply(wire.openai_error("Incorrect API key provided", code="invalid_api_key"), status=401),
        Reply(wire.openai_error("stop is not supported", param="stop"), status=400),
    )
    with pytest.raises(AuthenticationError):
        client.chat(HI, openai_api="responses")
    with pytest.raises(InvalidRequestError):
        client.chat(HI, openai_api="responses")


def test_stop_is_refused_before_sending(client: ChatClient, emu: ProviderEmulator) -> None:
    with pytest.raises(InvalidRequestError, match="stop"):
        client.chat(HI, stop=["END"], openai_api="responses")
    assert emu.request_count == 0


def test_an_error_event_mid_stream(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", wire.openai_response_events(["a ", "b ", "c"], error_after=5))
    seen: list[str] = []
    with pytest.raises(ProviderUnavailableError):
        for chunk in client.stream(HI, openai_api="responses"):
            seen.append(chunk.delta)
    assert seen == ["a "]


def test_rate_limits_are_retried(shared: OpenAIAdapter, emu: ProviderEmulator) -> None:
    clock = FakeClock()
    policy = clock.policy(max_retries=2)
    emu.enqueue(
        "openai",
        Reply(
            wire.openai_error("slow down", code="rate_limit_exceeded"),
            status=429,
            headers={"Retry-After": "2"},
        ),
        Reply(wire.openai_response("done")),
    )
    retried = ChatClient(RetryingAdapter(shared, policy), "gpt-4o-mini")
    assert retried.chat(HI, openai_api="responses").content == "done"
    assert len(emu.requests_for("openai")) == 2
    assert clock.sleeps == [2.0]


def test_a_failed_response_body_raises(client: ChatClient, emu: ProviderEmulator) -> None:
    failure = {"code": "rate_limit_exceeded", "message": "Too many tokens."}
    emu.enqueue("openai", Reply(wire.openai_response(None, status="failed", error=failure)))
    with pytest.raises(RateLimitError, match="Too many tokens"):
        client.chat(HI, openai_api="responses")


# -- configuration: per service, per profile, per route -------------------------------------


def test_openai_api_setting_and_a_route_profile(emu: ProviderEmulator, env: Any) -> None:
    with (
        env(DEEP_OPENAI_API="responses"),
        use_emulator(emu, llm_routes="answer=openai@deep/gpt-4o-mini", openai_api="chat"),
    ):
        get_chat_client(task="answer").chat(HI)  # the route's profile: Responses
        get_chat_client().chat(HI)  # LLM_SERVICE: OPENAI_API=chat
    paths = [request.path for request in emu.requests_for("openai")]
    assert paths == ["/v1/responses", "/v1/chat/completions"]
    with use_emulator(emu, openai_api="responses"):
        get_chat_client().chat(HI)
    assert emu.last_request("openai").path == "/v1/responses"


def test_compatible_presets_always_use_chat_completions(emu: ProviderEmulator) -> None:
    adapter = build_adapter(emu.config_for("openai", name="vllm", api="responses", api_key="x"))
    ChatClient(adapter, "o3-pro").chat(HI, tools=[get_weather])
    assert emu.last_request("openai").path == "/v1/chat/completions"
    adapter._client.close()  # type: ignore[attr-defined]


def test_a_text_conversation_on_a_reasoning_model_sends_its_reasoning_back(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "openai",
        Reply(
            wire.openai_response(
                "Three r's.",
                model="o4-mini",
                reasoning=[wire.reasoning_item("Count them.", encrypted_content="ENC-A")],
            )
        ),
    )
    first = client.chat(
        [{"role": "user", "content": "How many r's in strawberry?"}], openai_api="responses"
    )
    assert (first.content, first.reasoning) == ("Three r's.", "Count them.")
    follow_up = [
        {"role": "user", "content": "How many r's in strawberry?"},
        first.to_message(),
        {"role": "user", "content": "And in raspberry?"},
    ]
    client.chat(follow_up, openai_api="responses")
    items = body(emu.last_request("openai"))["input"]
    assert [i.get("type", i.get("role")) for i in items] == ["user", "reasoning", "message", "user"]
    assert items[1]["encrypted_content"] == "ENC-A"
    assert items[2]["id"].startswith("msg_")
    assert items[2]["content"][0] == {
        "type": "output_text",
        "text": "Three r's.",
        "annotations": [],
    }
