"""``rediss://``: every feature over TLS, a certificate the client does not trust, a password.

The store's own connections (the reserve, the fired settle, cache reads with our reply
reader) and redis-py's pool both run over the TLS front (`tls_front.TlsFront`), a real TLS
endpoint before the real redis-server; `test_store.py` runs every store operation over it
too (the ``rediss`` backend of its ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from state_helpers import timed
from tls_front import TlsFront

from persona_llm.containers import Container
from persona_llm.errors import ProviderUnavailableError, RateLimitError
from persona_llm.state.redis import RedisStore
from persona_llm.state.store import StoreError, WindowRule
from persona_llm.testing.redis_server import RedisServer

PASSWORD = "tls-Pw-Never-Shown-7"
Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def over_tls(front: TlsFront, prefix: str, **settings: Any) -> dict[str, Any]:
    """Settings of a fake-provider container limited and cached on Redis over TLS."""
    return {
        "llm_service": "fake/echo",
        "llm_state": front.url(),
        "llm_state_prefix": prefix,
        "llm_state_timeout": 1.0,
        "llm_rate_limits": "fake/*=3rpm,100000tpm",
        "llm_rate_window": 30,
        "llm_timeout": 0.3,
        "llm_cache": "redis",
        "llm_cache_local_ttl": 0,  # every hit read from Redis, through our reply reader
    } | settings


def test_plain_redis_is_refused_by_the_tls_port(tls_front: TlsFront, prefix: str) -> None:
    # What proves the other tests really speak TLS: the front's port takes nothing else.
    plain = RedisStore(f"redis://127.0.0.1:{tls_front.port}/0", prefix=prefix, timeout=0.5)
    with pytest.raises(StoreError, match=r"state store redis://127\.0\.0\.1"):
        plain.get_many(["k"])
    plain.close()


def test_limits_cache_and_settles_work_over_tls(
    container_with: Build, tls_front: TlsFront, prefix: str
) -> None:
    container = container_with(**over_tls(tls_front, prefix))
    client = container.chat_client()
    first = client.chat(user("over tls"))
    second = client.chat(user("over tls"))  # read back from Redis through TLS
    assert not first.cached and second.cached and second.content == first.content
    client.chat(user("two"))
    client.chat(user("three"))  # the third request this window: 3rpm
    with pytest.raises(RateLimitError, match=r"LLM_RATE_LIMITS fake/\*=3rpm") as refused:
        client.chat(user("four"))
    assert refused.value.status_code is None
    assert len(container.fake.adapter().calls) == 3
    report = container.usage_tracker().report().total
    assert (report.cache_hits, report.store_errors) == (1, 0)


async def test_the_asyncio_client_works_over_tls(
    container_with: Build, tls_front: TlsFront, prefix: str
) -> None:
    container = container_with(**over_tls(tls_front, prefix))
    client = container.async_chat_client()
    replies = await asyncio.gather(*(client.chat(user(f"n{n}")) for n in range(3)))
    assert [r.cached for r in replies] == [False, False, False]
    assert (await client.chat(user("n1"))).cached
    with pytest.raises(RateLimitError, match="3rpm"):
        await client.chat(user("n4"))
    assert container.usage_tracker().report().total.store_errors == 0


def test_a_large_entry_crosses_many_tls_records(rediss_store: RedisStore) -> None:
    # TLS records carry at most 16 KiB: the reply reader must join them.
    value = bytes(range(256)) * 4096  # 1 MiB
    rediss_store.set_many({"big": value, "small": b"s"}, 30)
    assert rediss_store.get_many(["big", "missing", "small"]) == [value, None, b"s"]


def test_fired_settles_and_reserves_share_the_tls_connection(rediss_store: RedisStore) -> None:
    rule = WindowRule("tokens", 100.0, 60.0, 40.0)
    assert rediss_store.acquire([rule], "a", ()).admitted
    assert rediss_store.acquire([rule], "b", ()).admitted
    # the settle is written and not waited for; its reply is read before the next one
    rediss_store.settle([("tokens", "a", 5.0)], [])
    third = rediss_store.acquire([rule], "c", ())
    fourth = rediss_store.acquire([rule], "d", ())
    assert third.admitted and not fourth.admitted and fourth.used == 85.0


def test_an_untrusted_certificate_fails_the_store_not_the_call(
    container_with: Build, tls_front: TlsFront, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    untrusted = f"rediss://127.0.0.1:{tls_front.port}/0"  # no ssl_ca_certs: the system CAs
    container = container_with(**over_tls(tls_front, prefix, llm_state=untrusted))
    with caplog.at_level(logging.WARNING, "persona_llm.state"):
        took, result = timed(lambda: container.chat_client().chat(user("hi")))
    assert not isinstance(result, Exception), result  # LLM_STATE_ON_ERROR=open
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text or "certificate verify" in caplog.text
    assert took < 3.0
    assert container.usage_tracker().report().total.store_errors >= 1


def test_an_untrusted_certificate_closed_refuses_naming_the_store(
    container_with: Build, tls_front: TlsFront, prefix: str
) -> None:
    untrusted = f"rediss://127.0.0.1:{tls_front.port}/0"
    settings = over_tls(tls_front, prefix, llm_state=untrusted, llm_state_on_error="closed")
    container = container_with(**settings)
    with pytest.raises(ProviderUnavailableError, match=r"state store rediss://127\.0\.0\.1") as err:
        container.chat_client().chat(user("hi"))
    assert err.value.retryable and "LLM_STATE_ON_ERROR=closed" in err.value.message
    assert container.fake.adapter().calls == []


def test_a_password_over_tls_works_and_never_shows(
    own_server: Callable[..., RedisServer],
    own_containers: Build,
    prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    locked = own_server(password=PASSWORD)
    with TlsFront(locked.port, tmp_path) as front:
        container = own_containers(**over_tls(front, prefix, llm_state=front.url(PASSWORD)))
        client = container.chat_client()
        client.chat(user("hi"))
        assert client.chat(user("hi")).cached
        assert PASSWORD not in repr(container.state().store)
        wrong = over_tls(front, prefix, llm_state=front.url("not-the-password"))
        refusing = own_containers(**(wrong | {"llm_state_on_error": "closed"}))
        with pytest.raises(ProviderUnavailableError) as refused:
            refusing.chat_client().chat(user("hi"))
        assert "not-the-password" not in str(refused.value)
        front.close()  # the TLS endpoint goes away mid-run: open proceeds, no hang
        with caplog.at_level(logging.DEBUG):
            took, result = timed(lambda: container.chat_client().chat(user("after")))
    assert not isinstance(result, Exception), result
    assert took < 1.0 + 0.5
    assert PASSWORD not in caplog.text
