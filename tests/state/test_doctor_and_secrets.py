"""``persona-llm doctor`` on the store, and the Redis password never shown anywhere."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import pytest

from persona_llm.cli import main
from persona_llm.containers import Container
from persona_llm.errors import ConfigurationError, redact
from persona_llm.settings import load_settings
from persona_llm.state.config import StateConfig, redact_url
from persona_llm.testing.redis_server import RedisServer

PASSWORD = "Sup3r-Secret-Redis-pw"


def doctor() -> tuple[int, str]:
    out = io.StringIO()
    status = main(["doctor"], out=out, err=io.StringIO(), stdin=io.StringIO())
    return status, out.getvalue()


def rows(out: str) -> dict[str, str]:
    return {line[:20].strip(): line[20:] for line in out.splitlines() if line.strip()}


@pytest.fixture
def locked(own_server: Callable[..., RedisServer]) -> RedisServer:
    return own_server(password=PASSWORD)


def test_doctor_checks_the_store_and_prints_the_limits(env: Any, locked: RedisServer) -> None:
    with env(
        LLM_SERVICE="fake/echo",
        LLM_STATE=locked.url,
        LLM_RATE_LIMITS="openai/gpt-4o-mini=500rpm,200000tpm; *=20concurrent",
        LLM_CACHE="redis",
    ):
        status, out = doctor()
    found = rows(out)
    assert status == 0 and PASSWORD not in out
    assert found["state store"].split()[0] == "ok"
    assert "Redis 6." in found["state store"] or "Redis 7." in found["state store"]
    assert f"redis://***@127.0.0.1:{locked.port}/0" in found["state store"]
    assert " ms round trip" in found["state store"]
    assert "openai/gpt-4o-mini: 500rpm, 200000tpm; *: 20concurrent" in found["rate limits"]
    assert "redis, ttl 86400 s" in found["response cache"]


def test_doctor_fails_on_an_unreachable_store_without_the_password(
    env: Any, locked: RedisServer
) -> None:
    url = locked.url
    locked.kill()
    with env(LLM_SERVICE="fake/echo", LLM_STATE=url):
        status, out = doctor()
    assert status == 1 and PASSWORD not in out
    assert rows(out)["state store"].startswith("FAIL")


def test_doctor_fails_on_bad_limits(env: Any) -> None:
    with env(LLM_SERVICE="fake/echo", LLM_RATE_LIMITS="openai=lots"):
        status, out = doctor()
    assert status == 1 and "LLM_RATE_LIMITS" in rows(out)["state"]


def test_the_password_is_redacted_in_urls_reprs_and_logs(
    container_with: Callable[..., Container],
    locked: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert redact_url(f"redis://:{PASSWORD}@h:6379/0") == "redis://***@h:6379/0"
    assert redact_url(f"rediss://user:{PASSWORD}@h/1") == "rediss://***@h/1"
    settings = load_settings(llm_state=locked.url)
    assert PASSWORD in settings.secret_values()  # so redact() removes it from any text
    assert PASSWORD not in redact(f"connecting to {locked.url}", settings.secret_values())
    assert PASSWORD not in StateConfig.from_settings(settings).safe_url
    container = container_with(llm_service="fake/echo", llm_state=locked.url, llm_cache="redis")
    state = container.state()
    assert PASSWORD not in repr(state) and PASSWORD not in repr(state.store)
    locked.kill()
    with caplog.at_level(logging.DEBUG):
        container.chat_client().chat([{"role": "user", "content": "hi"}])
    assert "state store" in caplog.text and PASSWORD not in caplog.text


def test_bad_store_urls_are_refused_without_the_password() -> None:
    with pytest.raises(ConfigurationError, match="LLM_STATE") as caught:
        StateConfig.check_url(f"mysql://:{PASSWORD}@host/db")
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigurationError, match="LLM_STATE"):
        StateConfig.from_settings(load_settings(llm_state="redis//nohost"))
