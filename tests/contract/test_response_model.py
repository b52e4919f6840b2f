"""`chat(..., response_model=Model)` through each real SDK, over HTTP, against the emulator.

Each provider must send its own native structured-output setting (OpenAI/Azure a strict
``json_schema`` response format, Anthropic the forced ``json_output`` tool, Gemini
``responseMimeType`` with ``responseJsonSchema``), read the JSON from its own reply shape into
a model instance, and re-ask once, naming the validation problem, when the first reply does
not fit the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.features.structured import strict_schema
from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, RecordedRequest, Reply

PROVIDERS = ("openai", "azure", "anthropic", "gemini")

MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "chat-prod",  # a deployment name
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
}

ASK = [
    {"role": "system", "content": "Extract the pet owner."},
    {"role": "user", "content": "Ana, 34, has a cat called Miso."},
]


class Pet(BaseModel):
    name: str
    species: str


class Owner(BaseModel):
    name: str
    age: int
    pets: list[Pet]


VALID = {"name": "Ana", "age": 34, "pets": [{"name": "Miso", "species": "cat"}]}
INVALID = {**VALID, "age": "thirty-four"}
PROBLEM = "age: Input should be a valid integer"  # as the re-ask prompt lists it


# -- adapters against the emulator ------------------------------------------------------------


def make_adapter(provider: str, emu: ProviderEmulator) -> ProviderAdapter:
    """The real adapter of `provider`, its SDK pointed at the emulator, without retries."""
    return build_adapter(emu.config_for(provider))


@pytest.fixture(scope="module")
def adapters(emulator: ProviderEmulator) -> Iterator[dict[str, ProviderAdapter]]:
    # One adapter per provider for the module: building SDK clients costs 50-100 ms each.
    built = {provider: make_adapter(provider, emulator) for provider in PROVIDERS}
    yield built
    for adapter in built.values():
        adapter.close()
        adapter._client.close()  # type: ignore[attr-defined]


@pytest.fixture
def chat_client(adapters: dict[str, ProviderAdapter]) -> Callable[[str], ChatClient]:
    return lambda provider: ChatClient(adapters[provider], MODELS[provider])


@pytest.fixture
async def async_chat_client(
    adapters: dict[str, ProviderAdapter],
) -> AsyncIterator[Callable[[str], AsyncChatClient]]:
    used: list[Any] = []

    def make(provider: str) -> AsyncChatClient:
        used.append(adapters[provider])
        return AsyncChatClient(adapters[provider], MODELS[provider])

    yield make
    for adapter in used:
        await adapter.aclose()  # inside the test's loop, so no connection outlives it


# -- the providers' wire shapes ----------------------------------------------------------------


def json_reply(provider: str, data: dict[str, Any]) -> Reply:
    """`data` as the provider's structured-output reply carries it."""
    if provider == "anthropic":
        call = {"type": "tool_use", "id": "toolu_01Owner", "name": "json_output", "input": data}
        return Reply(wire.anthropic_message([call], stop_reason="tool_use"))
    if provider == "gemini":
        return Reply(wire.gemini_response(json.dumps(data)))
    return Reply(wire.openai_chat(json.dumps(data), azure=provider == "azure"))


def schema_setting(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    """The schema the request carries, after checking the provider's native JSON setting."""
    if provider == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "json_output"}
        [tool] = body["tools"]
        assert tool["name"] == "json_output"
        schema: dict[str, Any] = tool["input_schema"]
        return schema
    if provider == "gemini":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert "responseSchema" not in config  # the OpenAPI subset; the JSON Schema is sent
        schema = config["responseJsonSchema"]
        return schema
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Owner"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    return schema


def last_user_text(provider: str, request: RecordedRequest) -> str:
    """The text of the request's final turn, which must be the user's."""
    if provider == "gemini":
        turn = request.json["contents"][-1]
        assert turn["role"] == "user"
        return "".join(part["text"] for part in turn["parts"])
    turn = request.json["messages"][-1]
    assert turn["role"] == "user"
    text: str = turn["content"]
    return text


def check_reask(provider: str, emu: ProviderEmulator) -> None:
    first, second = emu.requests_for(provider)
    assert PROBLEM not in json.dumps(first.json)
    assert PROBLEM in last_user_text(provider, second)
    # The re-ask still asks for the schema natively.
    assert schema_setting(provider, second.json) == strict_schema(Owner)


# -- blocking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reply_is_parsed_into_the_model(
    provider: str, emu: ProviderEmulator, chat_client: Callable[[str], ChatClient]
) -> None:
    emu.enqueue(provider, json_reply(provider, VALID))

    response = chat_client(provider).chat(ASK, response_model=Owner)

    assert isinstance(response.parsed, Owner)
    assert response.parsed == Owner.model_validate(VALID)
    assert response.finish_reason == "stop"
    [sent] = emu.requests_for(provider)
    assert schema_setting(provider, sent.json) == strict_schema(Owner)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invalid_reply_is_reasked_with_the_validation_error(
    provider: str, emu: ProviderEmulator, chat_client: Callable[[str], ChatClient]
) -> None:
    emu.enqueue(provider, json_reply(provider, INVALID), json_reply(provider, VALID))

    response = chat_client(provider).chat(ASK, response_model=Owner)

    assert response.parsed == Owner.model_validate(VALID)
    check_reask(provider, emu)


# -- asyncio ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_reply_is_parsed_into_the_model_async(
    provider: str,
    emu: ProviderEmulator,
    async_chat_client: Callable[[str], AsyncChatClient],
) -> None:
    emu.enqueue(provider, json_reply(provider, VALID))

    response = await async_chat_client(provider).chat(ASK, response_model=Owner)

    assert isinstance(response.parsed, Owner)
    assert response.parsed == Owner.model_validate(VALID)
    [sent] = emu.requests_for(provider)
    assert schema_setting(provider, sent.json) == strict_schema(Owner)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invalid_reply_is_reasked_with_the_validation_error_async(
    provider: str,
    emu: ProviderEmulator,
    async_chat_client: Callable[[str], AsyncChatClient],
) -> None:
    emu.enqueue(provider, json_reply(provider, INVALID), json_reply(provider, VALID))

    response = await async_chat_client(provider).chat(ASK, response_model=Owner)

    assert response.parsed == Owner.model_validate(VALID)
    check_reask(provider, emu)
