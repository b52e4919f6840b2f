"""The container: singletons, thread safety, overrides at every level, reset, asyncio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from dependency_injector import containers, providers

from persona_llm import (
    ChatResponse,
    get_async_chat_client,
    get_chat_client,
    get_embedding_client,
    reset_clients,
)
from persona_llm.clients import ChatClient
from persona_llm.containers import Container, Owned, container
from persona_llm.providers.base import PerLoop
from persona_llm.providers.fake import FakeProvider
from persona_llm.settings import load_settings
from persona_llm.testing import FakeChatClient, override_llm

HELLO = [{"role": "user", "content": "hello"}]


class CountingFake(FakeProvider):
    built = 0
    lock = threading.Lock()

    def __init__(self, **kwargs: object) -> None:
        with CountingFake.lock:
            CountingFake.built += 1
        threading.Event().wait(0.01)  # widen the race window
        super().__init__()


def test_one_instance_from_32_threads(fresh_container: Container) -> None:
    CountingFake.built = 0
    fresh_container.settings.override(providers.Object(load_settings(llm_service="fake/x")))
    fresh_container.fake.adapter.override(providers.ThreadSafeSingleton(CountingFake))
    barrier = threading.Barrier(32)

    def fetch(_: int) -> ChatClient:
        barrier.wait()
        client: ChatClient = fresh_container.chat_client()
        return client

    with ThreadPoolExecutor(32) as pool:
        clients = list(pool.map(fetch, range(32)))
    assert len({id(c) for c in clients}) == 1
    assert CountingFake.built == 1


def test_chat_and_embedding_clients_share_one_adapter(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/x"):
        # Each facade has its own usage wrapper; the provider adapter underneath is one.
        assert get_chat_client().adapter.inner is get_embedding_client().adapter.inner  # type: ignore[attr-defined]


def test_override_the_facade(env) -> None:  # type: ignore[no-untyped-def]
    fake = FakeChatClient(["scripted"])
    with env(LLM_SERVICE="fake/x"):
        before = get_chat_client()
        with container.chat_client.override(fake):
            assert get_chat_client() is fake
            assert get_chat_client().chat(HELLO).content == "scripted"
            # A client fetched before the override keeps its own adapter (documented).
            assert before.chat(HELLO).content == "hello"
        assert get_chat_client() is before


def test_override_one_adapter(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/x"), container.fake.adapter.override(FakeProvider(["from adapter"])):
        reply = get_chat_client().chat(HELLO)
    assert reply.content == "from adapter"
    assert (reply.provider, reply.model) == ("fake", "x")


def test_override_one_sdk_client_needs_no_key(env) -> None:  # type: ignore[no-untyped-def]
    # The adapter is built from the overriding SDK client; only the config is read.
    sdk_client = object()
    with env(LLM_SERVICE="fake/x"), container.openai.sdk.override(sdk_client):
        assert container.openai.sdk() is sdk_client


def test_reset_picks_up_a_changed_service(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/one"):
        assert get_chat_client().model == "one"
    with env(LLM_SERVICE="fake/two"):
        reset_clients()
        assert get_chat_client().model == "two"


def test_reset_closes_what_owned_singletons_built() -> None:
    closed: list[str] = []

    class Closable:
        def close(self) -> None:
            closed.append("closed")

    class Small(containers.DeclarativeContainer):
        sdk = Owned(Closable)

    small = Small()
    first = small.sdk()
    small.reset_singletons()
    assert closed == ["closed"]
    assert small.sdk() is not first


def test_asyncio_facade_survives_successive_asyncio_run(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/x"):
        first = asyncio.run(get_async_chat_client().chat(HELLO))
        second = asyncio.run(get_async_chat_client().chat(HELLO))
    assert first.content == second.content == "hello"


def test_concurrent_async_calls_do_not_block_each_other() -> None:
    fake = FakeProvider(delay=0.05)

    async def many() -> list[ChatResponse]:
        client = get_async_chat_client()
        return await asyncio.gather(*(client.chat(HELLO) for _ in range(20)))

    with override_llm(fake):
        replies = asyncio.run(many())
    assert len(replies) == 20
    assert fake.max_in_flight == 20  # all twenty were waiting at the same time


def test_per_loop_gives_each_event_loop_its_own_object() -> None:
    made: list[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    per_loop = PerLoop(factory)

    async def twice() -> tuple[object, object]:
        return per_loop.get(), per_loop.get()

    a1, a2 = asyncio.run(twice())
    b1, _ = asyncio.run(twice())
    assert a1 is a2 and a1 is not b1 and len(made) == 2


def test_per_loop_outside_a_loop_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        PerLoop(object).get()
