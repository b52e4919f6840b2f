"""`ChatResponse.raw` on the raw-response path, through the real SDKs over HTTP: the reply's
JSON as a dict, and the SDK's model built on the first attribute read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from persona_llm.providers import build_adapter
from persona_llm.providers._raw import RawReply
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, Reply
from persona_llm.types import ChatMessage, ChatRequest

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))
CASES = {
    "openai": ("gpt-4o-mini", wire.openai_chat("Hi there"), ChatCompletion),
    "azure": ("dep", wire.openai_chat("Hi there"), ChatCompletion),
    "anthropic": ("claude-x", wire.anthropic_message("Hi there"), Message),
}


@pytest.fixture(scope="module")
def adapters(emulator: ProviderEmulator) -> Iterator[dict[str, ProviderAdapter]]:
    built = {name: build_adapter(emulator.config_for(name)) for name in CASES}
    yield built
    for adapter in built.values():
        adapter.close()
        adapter._client.close()  # type: ignore[attr-defined]  # the blocking SDK client


@pytest.mark.parametrize("provider", list(CASES))
@pytest.mark.parametrize("use_asyncio", [False, True], ids=["sync", "async"])
def test_raw_is_the_body_and_builds_the_sdk_model_when_read_as_one(
    provider: str, use_asyncio: bool, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    model, body, sdk_type = CASES[provider]
    emu.enqueue(provider, Reply(body, content_type="application/json"))
    adapter = adapters[provider]
    reply = asyncio.run(adapter.achat(model, HELLO)) if use_asyncio else adapter.chat(model, HELLO)
    assert reply.content == "Hi there"
    assert isinstance(reply.raw, RawReply) and reply.raw == body
    assert isinstance(reply.raw.sdk_model(), sdk_type)
    if sdk_type is ChatCompletion:
        assert reply.raw.choices[0].message.content == "Hi there"
    else:
        assert reply.raw.content[0].text == "Hi there"
