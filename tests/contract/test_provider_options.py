"""Options over the real SDKs: ``provider_options`` reach only their provider (a fallback to
another provider never sees them), common options are mapped per provider, the escape hatches
reach the wire, and a misspelled option is never sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from persona_llm import InvalidRequestError
from persona_llm.containers import Container
from persona_llm.testing.emulator import PROVIDERS, Fault, ProviderEmulator
from tests.security.test_keys import MODELS, settings_for

HELLO = [{"role": "user", "content": "hi"}]


def client_for(
    emu: ProviderEmulator, container_with: Callable[..., Container], provider: str, **extra: Any
) -> Any:
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}",
        llm_max_retries=0,
        **settings_for(emu, provider, "sk-proj-Ab12Cd34Ef56Gh78"),
        **extra,
    )
    return container.chat_client()


def test_anthropic_options_do_not_follow_a_fallback_to_openai(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client = client_for(
        emu,
        container_with,
        "anthropic",
        llm_fallbacks="openai/gpt-4o-mini",
        **settings_for(emu, "openai", "sk-proj-Zz12Yy34Xx56Ww78"),
    )
    emu.enqueue("anthropic", Fault(503))
    thinking = {"type": "enabled", "budget_tokens": 1024}
    reply = client.chat(
        HELLO,
        max_tokens=2048,
        provider_options={"anthropic": {"thinking": thinking}, "openai": {"user": "u-1"}},
    )
    assert reply.provider == "openai"
    anthropic_body, openai_body = (r.json for r in emu.requests)
    assert anthropic_body["thinking"] == thinking and "user" not in anthropic_body
    assert openai_body["user"] == "u-1" and "thinking" not in openai_body


@pytest.mark.parametrize("provider", PROVIDERS)
def test_escape_hatches_and_common_options_reach_the_wire(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client = client_for(emu, container_with, provider)
    client.chat(
        HELLO,
        top_p=0.5,
        extra_body={"custom_field": 7},
        extra_headers={"x-custom-header": "yes"},
    )
    request = emu.requests[-1]
    assert request.headers["x-custom-header"] == "yes"
    assert request.json["custom_field"] == 7
    sampling = request.json.get("generationConfig", request.json)
    assert sampling.get("top_p", sampling.get("topP")) == 0.5


def test_n_is_candidate_count_on_gemini(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client_for(emu, container_with, "gemini").chat(HELLO, n=1, seed=3)
    config = emu.requests[-1].json["generationConfig"]
    assert (config["candidateCount"], config["seed"]) == (1, 3)


@pytest.mark.parametrize("option", [{"n": 2}, {"seed": 1}, {"presence_penalty": 0.5}])
def test_common_options_anthropic_lacks_are_refused_before_sending(
    option: dict[str, Any], emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    with pytest.raises(InvalidRequestError, match=f"Anthropic .*{next(iter(option))}"):
        client_for(emu, container_with, "anthropic").chat(HELLO, **option)
    assert emu.requests == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_misspelled_option_is_never_sent(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    with pytest.raises(InvalidRequestError, match="did you mean `temperature`"):
        client_for(emu, container_with, provider).chat(HELLO, temprature=0.2)
    assert emu.requests == []


def test_a_per_call_model_is_sent_and_reported_under_its_own_row(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    from persona_llm.testing import wire
    from persona_llm.testing.emulator import Reply
    from persona_llm.usage import usage_table

    container = container_with(
        llm_service="openai/gpt-4o-mini", **settings_for(emu, "openai", "sk-proj-Ab12Cd34Ef56")
    )
    client = container.chat_client()
    emu.enqueue("openai", Reply(wire.openai_chat("a", model="gpt-4o")))
    client.chat(HELLO, model="gpt-4o")
    list(client.stream(HELLO, model="gpt-4.1"))
    client.chat(HELLO)
    assert [r.json["model"] for r in emu.requests] == ["gpt-4o", "gpt-4.1", "gpt-4o-mini"]
    rows = {row.model: row.calls for row in container.usage_tracker().report().rows}
    assert rows == {"gpt-4o": 1, "gpt-4.1": 1, "gpt-4o-mini": 1}
    table = usage_table(container.usage_tracker().report())
    assert "gpt-4.1" in table
    with pytest.raises(InvalidRequestError, match="model must be a model name"):
        client.chat(HELLO, model=5)


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_n_gives_every_reply_in_choices_on_openai_and_azure(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    from persona_llm.testing import wire
    from persona_llm.testing.emulator import Reply

    body = wire.openai_chat("first")
    message = {"role": "assistant", "content": "second"}
    second = {**body["choices"][0], "index": 1, "message": message}
    body["choices"] = [second, body["choices"][0]]  # out of order on purpose
    emu.enqueue(provider, Reply(body))
    reply = client_for(emu, container_with, provider).chat(HELLO, n=2)
    assert emu.requests[-1].json["n"] == 2
    assert reply.content == "first"
    assert [c.content for c in reply.choices] == ["first", "second"]


def test_n_gives_every_candidate_in_choices_on_gemini(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    from persona_llm.testing import wire
    from persona_llm.testing.emulator import Reply

    body = wire.gemini_response("first")
    other = {
        **body["candidates"][0],
        "index": 1,
        "content": {"role": "model", "parts": [{"text": "second"}]},
    }
    body["candidates"].append(other)
    emu.enqueue("gemini", Reply(body))
    reply = client_for(emu, container_with, "gemini").chat(HELLO, n=2)
    assert emu.requests[-1].json["generationConfig"]["candidateCount"] == 2
    assert [c.content for c in reply.choices] == ["first", "second"]


def test_one_reply_has_no_choices_and_stream_refuses_n(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client = client_for(emu, container_with, "openai")
    assert client.chat(HELLO).choices == []
    with pytest.raises(InvalidRequestError, match="n > 1 is for chat"):
        client.stream(HELLO, n=2)


def test_n_on_the_responses_transport_is_refused_before_sending(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client = client_for(emu, container_with, "openai")
    with pytest.raises(InvalidRequestError, match="Responses API returns one reply"):
        client.chat(HELLO, n=2, openai_api="responses")
    client.chat(HELLO, n=1, openai_api="responses")
    assert [r.path for r in emu.requests] == ["/v1/responses"]
    assert "n" not in emu.requests[0].json
