"""A rate-limited stream the caller abandons gives back its slot and its connection at once.

The target is OpenAI on the emulator, limited to one call in flight (``1concurrent``) with a
short deadline, so a slot that is not given back makes the next call raise our
`RateLimitError`. The stream is slow (0.2 s per event): when the caller stops after the
first chunk, most of the body is still unread, so its connection must be closed (an
unfinished HTTP/1.1 response cannot go back to the pool).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from persona_llm.containers import Container
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, SSEReply
from persona_llm.testing.redis_server import RedisServer

HELLO = [{"role": "user", "content": "hello"}]


def slow_stream() -> SSEReply:
    chunks = wire.openai_chunks(["one ", "two ", "three ", "four ", "five"])
    return SSEReply(chunks.events, done=True, delay=0.2)


@pytest.fixture(params=["memory", "redis"])
def build(
    request: pytest.FixtureRequest,
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
    prefix: str,
) -> Callable[[], Container]:
    def make() -> Container:
        values: dict[str, Any] = {
            "llm_service": "openai/gpt-4o-mini",
            "openai_api_key": "sk-test-streams-0123456789",
            "openai_base_url": emu.openai_base_url,
            "llm_rate_limits": "openai/*=1concurrent",
            "llm_max_retries": 0,
            "llm_timeout": 0.5,
        }
        if request.param == "redis":
            server: RedisServer = request.getfixturevalue("redis_server")
            values |= {"llm_state": server.url, "llm_state_prefix": prefix}
        return container_with(**values)

    return make


@pytest.fixture
def no_collector() -> Iterator[None]:
    """What is closed must be closed by the library, not by a garbage collection."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_collector")
async def test_an_abandoned_asyncio_stream_frees_its_slot_and_closes_its_connection(
    build: Callable[[], Container], emu: ProviderEmulator
) -> None:
    client = build().async_chat_client()
    emu.enqueue("openai", slow_stream())
    stream = client.stream(HELLO)
    async for chunk in stream:
        assert chunk.delta == "one "
        break
    await stream.aclose()  # type: ignore[attr-defined]
    # No await since: nothing scheduled for later may do the closing.
    assert emu.open_connections() == 0
    reply = await client.chat(HELLO)  # the slot is free: no wait, no RateLimitError
    assert reply.content == "echo: hello"
    assert len(emu.requests) == 2


@pytest.mark.usefixtures("no_collector")
def test_an_abandoned_blocking_stream_frees_its_slot_and_closes_its_connection(
    build: Callable[[], Container], emu: ProviderEmulator
) -> None:
    client = build().chat_client()
    emu.enqueue("openai", slow_stream())
    stream = client.stream(HELLO)
    for chunk in stream:
        assert chunk.delta == "one "
        break
    stream.close()  # type: ignore[attr-defined]
    assert emu.open_connections() == 0
    assert client.chat(HELLO).content == "echo: hello"


@pytest.mark.usefixtures("no_collector")
def test_a_blocking_stream_dropped_before_its_first_chunk_frees_its_slot(
    build: Callable[[], Container], emu: ProviderEmulator
) -> None:
    # The blocking stream is admitted when it is created (so a refusal raises there):
    # dropping it unread must give the slot back.
    client = build().chat_client()
    stream = client.stream(HELLO)
    del stream
    assert client.chat(HELLO).content == "echo: hello"
    assert len(emu.requests) == 1
