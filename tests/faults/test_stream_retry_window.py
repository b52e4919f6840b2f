"""A stream is retried (and failed over) until the caller can see content in it.

The window closes at the first chunk with text, a refusal, tool calls or the finish — on
every provider alike. A thought-only or otherwise empty event before a dropped connection
shows the caller nothing, so the call is tried again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from fault_helpers import PROVIDERS

from persona_llm.containers import Container
from persona_llm.errors import APIConnectionError
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, SSEReply

HELLO = [{"role": "user", "content": "hello"}]
Stack = Callable[..., Container]
THOUGHT = "pondering the question"


def thinking_then(provider: str, text: str) -> SSEReply:
    """A stream whose first events carry only thoughts (or nothing visible), then `text`."""
    if provider == "gemini":
        return wire.gemini_events([{"text": THOUGHT, "thought": True}, text])
    if provider == "anthropic":
        thinking = {"type": "thinking", "thinking": THOUGHT, "signature": "sig"}
        return wire.anthropic_events([thinking, {"type": "text", "text": text}])
    return wire.openai_chunks([text], azure=provider == "azure")


def dropped_before_text(provider: str) -> SSEReply:
    """`thinking_then` whose connection drops just before the first event with text."""
    reply = thinking_then(provider, "late")
    cut = next(i for i, event in enumerate(reply.events) if '"late"' in json.dumps(event))
    return dataclasses.replace(reply, drop_after=cut)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_dropped_before_visible_content_is_retried(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, dropped_before_text(provider), thinking_then(provider, "answer"))
    chunks = list(stack(provider, llm_max_retries=1).chat_client().stream(HELLO))
    assert "".join(chunk.delta for chunk in chunks) == "answer"
    assert len(emu.requests_for(provider)) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_asyncio_stream_dropped_before_visible_content_is_retried(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, dropped_before_text(provider), thinking_then(provider, "answer"))
    client = stack(provider, llm_max_retries=1).async_chat_client()

    async def main() -> list[Any]:
        try:
            return [chunk async for chunk in client.stream(HELLO)]
        finally:
            await client.adapter.aclose()

    chunks = asyncio.run(main())
    assert "".join(chunk.delta for chunk in chunks) == "answer"
    assert len(emu.requests_for(provider)) == 2


def test_a_gemini_stream_dropped_before_text_fails_over(
    stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue("gemini", dropped_before_text("gemini"))
    container = stack("gemini", "openai", llm_max_retries=0, llm_fallbacks="openai/gpt-4o-mini")
    chunks = list(container.chat_client().stream(HELLO))
    assert chunks[-1].provider == "openai"
    assert "".join(chunk.delta for chunk in chunks) == "echo: hello"


def test_a_drop_after_visible_text_reaches_the_caller(stack: Stack, emu: ProviderEmulator) -> None:
    reply = wire.gemini_events(["seen", " lost"])
    emu.enqueue("gemini", dataclasses.replace(reply, drop_after=1))
    seen: list[str] = []
    with pytest.raises(APIConnectionError):
        for chunk in stack("gemini", llm_max_retries=2).chat_client().stream(HELLO):
            seen.append(chunk.delta)
    assert seen == ["seen"] and len(emu.requests_for("gemini")) == 1
