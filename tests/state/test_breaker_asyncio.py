"""The shared breaker on asyncio calls: a slow store never blocks the event loop.

A pool (``openai`` then ``anthropic`` on the emulator) with its breakers on a Redis of the
test's own, stalled with ``DEBUG SLEEP``; the store timeout is 0.2 s. While an asyncio call
waits for the breakers' read, a ticker task must keep running: with a blocking read, the
loop would stand still for the whole store timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from state_helpers import breaker_pool

from persona_llm.containers import Container
from persona_llm.testing.emulator import Fault, ProviderEmulator
from persona_llm.testing.redis_server import RedisServer

STORE_TIMEOUT = 0.2


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def pool(
    container_with: Callable[..., Container], emu: ProviderEmulator, url: str, prefix: str
) -> Container:
    values = breaker_pool(emu, url, prefix) | {"llm_state_timeout": STORE_TIMEOUT}
    return container_with(**values)


async def gaps_while(call: Any) -> tuple[float, Any, float]:
    """(seconds `call` took, its result, the longest stretch the loop ran no other task)."""
    done = False
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.monotonic()
    try:
        result = await call
    except Exception as exc:  # the test looks at what came out
        result = exc
    took = time.monotonic() - started
    done = True
    await task
    return took, result, max(gaps)


async def test_a_slow_store_does_not_block_the_event_loop(
    emu: ProviderEmulator,
    own_server: Callable[..., RedisServer],
    container_with: Callable[..., Container],
) -> None:
    server = own_server()
    client = pool(container_with, emu, server.url, "slow:").async_chat_client()
    await client.chat(user("warm"))  # the loop's Redis connection is open
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.5"))
    stall.start()
    await asyncio.sleep(0.1)
    try:
        took, reply, longest_gap = await gaps_while(client.chat(user("while stalled")))
    finally:
        stall.join()
    assert not isinstance(reply, Exception), reply  # LLM_STATE_ON_ERROR=open: it proceeds
    assert took >= STORE_TIMEOUT * 0.9  # it did wait for the stalled store...
    assert took < 2 * STORE_TIMEOUT + 0.5  # ...no longer than the store timeout allows
    # ...and the other tasks ran meanwhile: waiting on the store would stop the loop for the
    # whole store timeout; a loaded machine alone has shown gaps of 0.11 s
    assert longest_gap < STORE_TIMEOUT * 0.75


async def test_asyncio_calls_share_the_breaker_through_the_store(
    emu: ProviderEmulator,
    redis_server: RedisServer,
    container_with: Callable[..., Container],
    prefix: str,
) -> None:
    emu.enqueue("openai", *[Fault(503)] * 20)
    container = pool(container_with, emu, redis_server.url, prefix)
    client = container.async_chat_client()
    for _ in range(4):  # round robin: openai fails twice (each time anthropic answers)
        assert (await client.chat(user("hi"))).provider == "anthropic"
    assert len(emu.requests_for("openai")) == 2
    for _ in range(4):  # open: every call goes to anthropic without touching openai
        assert (await client.chat(user("hi"))).provider == "anthropic"
    chunks = [chunk async for chunk in client.stream(user("hi"))]
    assert chunks[-1].provider == "anthropic"
    assert len(emu.requests_for("openai")) == 2
    breaker = await container.state().store.abreaker_ready(
        ["breaker:openai/gpt-4o-mini"], probe_ttl=5
    )
    assert breaker[0] > 0  # open, in the store
