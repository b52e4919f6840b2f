"""asyncio clients leave no connection open, nor to the garbage collector.

Each ``asyncio.run()`` gets its own SDK clients (one per event loop); they are closed when
the loop shuts down, or earlier by the facade's ``aclose()``. The emulator counts the
connections still open; a transport or socket closed only by the collector shows as a
``ResourceWarning``. Neither may remain.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable, Iterator

import pytest
from fault_helpers import MODELS, PROVIDERS, provider_settings

from persona_llm.containers import Container
from persona_llm.testing.emulator import ProviderEmulator

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def build(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> Callable[..., Container]:
    def make(provider: str) -> Container:
        return container_with(
            llm_service=f"{provider}/{MODELS[provider]}",
            embedding_service="fake/x",
            llm_max_retries=0,
            llm_timeout=5,  # the test is about closing, not speed: room for a loaded machine
            **provider_settings(emu, provider),
        )

    return make


@pytest.fixture
def resource_warnings() -> Iterator[list[str]]:
    """The ResourceWarnings raised until the end of the test (after a full collection)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        found: list[str] = []
        yield found
        gc.collect()
        found += [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_asyncio_run_closes_its_clients(
    provider: str,
    build: Callable[..., Container],
    emu: ProviderEmulator,
    resource_warnings: list[str],
) -> None:
    client = build(provider).async_chat_client()

    async def calls() -> None:
        await client.chat(HELLO)
        async for _ in client.stream(HELLO):
            pass

    gc.disable()  # what is closed must be closed by the library, not by a collection
    try:
        for _ in range(3):
            asyncio.run(calls())
            assert emu.open_connections() == 0  # closed when the loop shut down
    finally:
        gc.enable()
    gc.collect()
    assert resource_warnings == []


def test_aclose_closes_the_loops_connections_before_it_ends(
    build: Callable[..., Container], emu: ProviderEmulator, resource_warnings: list[str]
) -> None:
    client = build("openai").async_chat_client()

    async def serve_then_shut_down() -> None:
        await client.chat(HELLO)
        assert emu.open_connections(settle=0) == 1  # kept alive for the next call
        await client.aclose()  # the app's shutdown hook
        await client.aclose()  # twice is harmless
        assert emu.open_connections() == 0

    loop = asyncio.new_event_loop()  # a loop the app manages, closed without shutdown_asyncgens
    loop.run_until_complete(serve_then_shut_down())
    loop.close()
    del loop
    gc.collect()
    assert resource_warnings == []


def test_the_embedding_client_closes_too(
    emu: ProviderEmulator, container_with: Callable[..., Container], resource_warnings: list[str]
) -> None:
    client = container_with(
        llm_service="fake/x",
        embedding_service="gemini/gemini-embedding-001",
        **provider_settings(emu, "gemini"),
    ).async_embedding_client()

    async def embed() -> list[list[float]]:
        vectors = await client.embeddings(["a", "b"])
        await client.aclose()
        return vectors

    assert len(asyncio.run(embed())) == 2
    assert resource_warnings == []
