"""reasoning=, reasoning out, provider data round trips, prompt-cache markers and cached-token
usage, through the real SDKs to the emulator (clients built by the container)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from content_helpers import settings_for

from persona_llm import TextPart
from persona_llm.clients import ChatClient
from persona_llm.containers import Container
from persona_llm.errors import InvalidRequestError
from persona_llm.features.streaming import collect_stream
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, Reply
from persona_llm.usage.prices import default_prices, usage_cost


@pytest.fixture
def client(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> Callable[..., ChatClient]:
    def build(provider: str, service: str | None = None, **extra: Any) -> ChatClient:
        settings = settings_for(emu, provider) | extra
        if service:
            settings["llm_service"] = service
        container = container_with(**settings)
        container.reset_singletons()  # a second client in one test gets its own settings
        built: ChatClient = container.chat_client()
        return built

    return build


HI = [{"role": "user", "content": "Think, then answer"}]


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


# -- reasoning in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "service", "level", "expected"),
    [
        ("openai", "openai/o4-mini", "low", {"reasoning_effort": "low"}),
        ("openai", "openai/gpt-5.1", "none", {"reasoning_effort": "none"}),
        ("openai", "openai/gpt-5", "none", {"reasoning_effort": "minimal"}),
        (
            "anthropic",
            "anthropic/claude-sonnet-4-6",
            "high",
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
        (
            "anthropic",
            "anthropic/claude-sonnet-4-5",
            "medium",
            {"thinking": {"type": "enabled", "budget_tokens": 4096}},
        ),
        (
            "gemini",
            "gemini/gemini-3.8-flash",
            "high",
            {
                "generationConfig": {
                    "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "HIGH"}
                }
            },
        ),
        (
            "gemini",
            "gemini/gemini-2.5-flash",
            "low",
            {
                "generationConfig": {
                    "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}
                }
            },
        ),
    ],
)
def test_one_reasoning_setting_maps_to_each_providers_field(
    provider: str,
    service: str,
    level: str,
    expected: dict[str, Any],
    emu: ProviderEmulator,
    client: Callable[..., ChatClient],
) -> None:
    client(provider, service).chat(HI, reasoning=level)
    body = emu.last_request(provider).json
    for key, value in expected.items():
        if key == "generationConfig":
            # google-genai sends this dict's keys as given (snake_case); the API reads both.
            thinking = {_camel(k): v for k, v in body[key]["thinkingConfig"].items()}
            if "thinkingLevel" in thinking:
                thinking["thinkingLevel"] = str(thinking["thinkingLevel"]).upper()
            assert thinking == value["thinkingConfig"]
        else:
            assert body[key] == value


def test_llm_reasoning_is_the_default_and_a_call_overrides_it(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    chat = client("openai", "openai/o4-mini", llm_reasoning="high")
    chat.chat(HI)
    assert emu.last_request("openai").json["reasoning_effort"] == "high"
    chat.chat(HI, reasoning="low")
    assert emu.last_request("openai").json["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    ("provider", "service"),
    [
        ("openai", "openai/gpt-4o"),
        ("anthropic", "anthropic/claude-3-5-haiku-latest"),
        ("gemini", "gemini/gemini-2.0-flash"),
    ],
)
def test_a_model_that_cannot_reason_follows_llm_unsupported_params(
    provider: str,
    service: str,
    emu: ProviderEmulator,
    client: Callable[..., ChatClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be honoured"):
        client(provider, service).chat(HI, reasoning="high")
    assert emu.requests_for(provider) == []
    client(provider, service, llm_unsupported_params="drop").chat(HI, reasoning="high")
    body = emu.last_request(provider).json
    assert not {"reasoning_effort", "thinking"} & set(body)
    assert "thinkingConfig" not in body.get("generationConfig", {})
    assert "dropped" in caplog.text


def test_anthropic_refuses_thinking_with_a_forced_tool(client: Callable[..., ChatClient]) -> None:
    def lookup(city: str) -> str:
        """Look up a city."""
        return city

    with pytest.raises(InvalidRequestError, match="forcing a tool"):
        client("anthropic").chat(HI, reasoning="low", tools=[lookup], tool_choice="lookup")


# -- reasoning out and provider data ----------------------------------------------------------


def test_anthropic_thinking_comes_back_apart_and_round_trips(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "42"},
    ]
    emu.enqueue("anthropic", Reply(wire.anthropic_message(blocks)))
    chat = client("anthropic")
    reply = chat.chat(HI, reasoning="high")
    assert (reply.content, reply.reasoning) == ("42", "Let me think.")
    chat.chat([*HI, reply.to_message(), {"role": "user", "content": "And then?"}])
    assistant = emu.last_request("anthropic").json["messages"][1]
    assert assistant["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "42"},
    ]


def test_anthropic_streams_thinking_as_reasoning_chunks(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    blocks = [
        {"type": "thinking", "thinking": "Step one. Step two.", "signature": "sig-2"},
        {"type": "text", "text": "Done"},
    ]
    emu.enqueue("anthropic", wire.anthropic_events(blocks))
    chunks = list(client("anthropic").stream(HI, reasoning="low"))
    assert "".join(c.reasoning for c in chunks) == "Step one. Step two."
    assert "".join(c.delta for c in chunks) == "Done"
    reply = collect_stream(chunks)
    assert reply.reasoning == "Step one. Step two."
    assert reply.provider_data["anthropic"]["thinking"][0]["signature"] == "sig-2"


def test_gemini_thought_summaries_and_signatures_round_trip(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    parts = [
        {"text": "Considering options.", "thought": True},
        {"text": "Blue.", "thoughtSignature": "c2lnbmF0dXJl"},
    ]
    emu.enqueue("gemini", Reply(wire.gemini_response(parts, thoughts_tokens=7)))
    chat = client("gemini")
    reply = chat.chat(HI, reasoning="medium")
    assert (reply.content, reply.reasoning) == ("Blue.", "Considering options.")
    assert reply.usage is not None and reply.usage.reasoning_tokens == 7
    chat.chat([*HI, reply.to_message(), {"role": "user", "content": "Why?"}])
    model_turn = emu.last_request("gemini").json["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["text"] == "Blue."
    assert model_turn["parts"][0]["thoughtSignature"].rstrip("=") == "c2lnbmF0dXJl"


def test_openai_compatible_reasoning_content_is_reasoning(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("4", reasoning_content="2+2 is 4")))
    reply = client("openai").chat(HI)
    assert (reply.content, reply.reasoning) == ("4", "2+2 is 4")


# -- prompt caching ---------------------------------------------------------------------------


def test_cache_prompt_and_part_markers_reach_anthropic(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    messages = [
        {"role": "system", "content": "A long fixed system prompt."},
        {"role": "user", "content": [TextPart("A long document", cache=True), TextPart("Q?")]},
    ]
    client("anthropic").chat(messages, cache_prompt=True)
    body = emu.last_request("anthropic").json
    assert body["system"] == [
        {
            "type": "text",
            "text": "A long fixed system prompt.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    cached = [(p.role, p.text) for p in emu.last_request("anthropic").parts if p.cache]
    assert cached == [("system", "A long fixed system prompt."), ("user", "A long document")]


def test_openai_gets_prompt_cache_key_only_when_given(
    emu: ProviderEmulator, client: Callable[..., ChatClient]
) -> None:
    chat = client("openai")
    chat.chat(HI, cache_prompt=True)
    assert "prompt_cache_key" not in emu.last_request("openai").json
    key = {"prompt_cache_key": "persona-extraction"}  # OpenAI's own: in its provider_options
    chat.chat(HI, cache_prompt=True, provider_options={"openai": key})
    assert emu.last_request("openai").json["prompt_cache_key"] == "persona-extraction"


@pytest.mark.parametrize(
    ("provider", "model", "reply", "cached", "written"),
    [
        (
            "openai",
            "gpt-4o",
            wire.openai_chat("ok", model="gpt-4o", prompt_tokens=2000, cached_tokens=1536),
            1536,
            0,
        ),
        (
            "anthropic",
            "claude-sonnet-4-6",
            wire.anthropic_message(
                "ok",
                model="claude-sonnet-4-6",
                input_tokens=100,
                cache_creation_input_tokens=300,
                cache_read_input_tokens=1600,
            ),
            1600,
            300,
        ),
        (
            "gemini",
            "gemini-3.8-flash",
            wire.gemini_response(
                "ok", model_version="gemini-3.8-flash", prompt_tokens=2000, cached_tokens=1024
            ),
            1024,
            0,
        ),
    ],
)
def test_cached_tokens_are_reported_and_priced(
    provider: str,
    model: str,
    reply: dict[str, Any],
    cached: int,
    written: int,
    emu: ProviderEmulator,
    client: Callable[..., ChatClient],
) -> None:
    emu.enqueue(provider, Reply(reply))
    response = client(provider).chat(HI, cache_prompt=True)
    usage = response.usage
    assert usage is not None
    assert (usage.cached_tokens, usage.cache_write_tokens) == (cached, written)
    price = default_prices().lookup(provider, model)
    assert price is not None and response.cost_usd == pytest.approx(usage_cost(price, usage))
    uncached = usage.model_copy(update={"cached_tokens": 0, "cache_write_tokens": 0})
    assert response.cost_usd != pytest.approx(usage_cost(price, uncached))
