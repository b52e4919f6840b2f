"""API keys never leave the library: not in logs (DEBUG included), errors, reprs, tracebacks,
CLI output, or URLs — even when the provider echoes the key back in its error body."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.containers import Container
from persona_llm.errors import LLMError
from persona_llm.testing import wire
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.emulator import PROVIDERS, Fault, ProviderEmulator, Reply

HELLO = [{"role": "user", "content": "hello"}]
KEYS = {
    "openai": "sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQr",
    "azure": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "anthropic": "sk-ant-api03-ZyXwVuTsRqPoNmLkJiHg",
    "gemini": "AIzaSyD-1234567890abcdefghijklmnopqrs",
}
# A key in no recognizable shape: only the configured value can redact it.
PLAIN = {
    "openai": "plainopenaisecret42",
    "azure": "plainazuresecret42",
    "anthropic": "plainanthropicsecret42",
    "gemini": "plaingeminisecret42",
}
MODELS = {"openai": "gpt-4o-mini", "azure": "dep", "anthropic": "claude-x", "gemini": "gemini-x"}


def settings_for(emu: ProviderEmulator, provider: str, key: str) -> dict[str, Any]:
    base = {
        "openai": ("openai_base_url", emu.openai_base_url),
        "azure": ("azure_api_base", emu.azure_endpoint),
        "anthropic": ("anthropic_base_url", emu.anthropic_base_url),
        "gemini": ("gemini_base_url", emu.gemini_base_url),
    }[provider]
    return {f"{provider}_api_key": key, base[0]: base[1]}


def error_body(provider: str, status: int, text: str) -> Any:
    """`provider`'s error JSON for `status` (an invalid key: 401, Gemini's 400)."""
    if provider == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")
        return wire.anthropic_error(kind, text)
    if provider == "gemini":
        if status == 401:
            return wire.gemini_error(400, text, "INVALID_ARGUMENT", "API_KEY_INVALID")
        return wire.gemini_error(
            status, text, "RESOURCE_EXHAUSTED" if status == 429 else "INTERNAL"
        )
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return wire.openai_error(text, type=None, code=code)


def echoing_errors(provider: str, key: str) -> list[Reply | Fault]:
    """Error replies that quote the key: an invalid key, a 429 and a 500 (both retried), and
    a proxy's HTML page."""
    text = f"Incorrect API key provided: {key}. Your key {key[:6]}***{key[-4:]} was rejected"
    page = f"<html><body>upstream said: x-api-key={key}</body></html>"
    return [
        Reply(error_body(provider, 401, text), status=400 if provider == "gemini" else 401),
        Reply(error_body(provider, 429, text), status=429, headers={"Retry-After": "0"}),
        Reply(error_body(provider, 500, text), status=500),
        Fault(502, page, content_type="text/html"),
    ]


def everything_printed(error: BaseException) -> str:
    """What a user could see of an error: str, repr, the traceback with its chain, and the
    same for every target's failure."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for failure in getattr(error, "failures", []):
        parts += [str(failure), repr(failure), "".join(traceback.format_exception(failure))]
    return "\n".join(parts)


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """Every log record of every logger, DEBUG and up, formatted with its arguments."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("shape", ["shaped", "plain"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_echoed_key_appears_nowhere(
    provider: str,
    shape: str,
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
    debug_logs: io.StringIO,
) -> None:
    key = KEYS[provider] if shape == "shaped" else PLAIN[provider]
    other = "openai" if provider != "openai" else "gemini"
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}",
        llm_fallbacks=f"{other}/",
        llm_max_retries=1,
        **settings_for(emu, provider, key),
        **settings_for(emu, other, KEYS[other]),
    )
    container.retry_policy.override(providers.Object(FakeClock().policy(max_retries=1)))
    client = container.chat_client()
    seen: list[str] = [repr(client), repr(container.chat_adapter()), repr(container.settings())]
    for reply in echoing_errors(provider, key):
        emu.reset()
        emu.enqueue(provider, reply, reply)
        emu.enqueue(other, *echoing_errors(other, KEYS[other])[:1])
        with pytest.raises(LLMError) as caught:
            client.chat(HELLO)
        seen.append(everything_printed(caught.value))
    assert debug_logs.getvalue(), "DEBUG logging captured nothing"
    for text in [*seen, debug_logs.getvalue()]:
        for secret in (key, KEYS[other]):
            assert secret not in text
            assert secret[6:-4] not in text  # not even the middle of it


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_cli_never_prints_the_key(
    provider: str, emu: ProviderEmulator, env: Any, debug_logs: io.StringIO
) -> None:
    from persona_llm.cli import main

    key = KEYS[provider]
    variables = {k.upper(): v for k, v in settings_for(emu, provider, key).items()}
    emu.enqueue(provider, echoing_errors(provider, key)[0])
    out, err = io.StringIO(), io.StringIO()
    with env(**variables):
        status = main(
            ["chat", "--service", f"{provider}/{MODELS[provider]}", "hi"],
            out=out,
            err=err,
            stdin=io.StringIO(),
        )
    assert status == 1 and "AuthenticationError" in err.getvalue()
    for text in (out.getvalue(), err.getvalue(), debug_logs.getvalue()):
        assert key not in text and key[6:-4] not in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_key_never_travels_in_a_url(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    key = KEYS[provider]
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}",
        embedding_service="fake/x" if provider == "anthropic" else f"{provider}/{MODELS[provider]}",
        **settings_for(emu, provider, key),
    )
    container.chat_client().chat(HELLO)
    list(container.chat_client().stream(HELLO))
    if provider != "anthropic":
        container.embedding_client().embeddings(["a", "b"])
    header = {"openai": "authorization", "azure": "api-key", "anthropic": "x-api-key"}
    for request in emu.requests:
        assert key not in request.path and key not in str(request.query)
        assert "key" not in request.query
        sent = request.headers[header.get(provider, "x-goog-api-key")]
        assert sent in (key, f"Bearer {key}")
    assert len(emu.requests) == (2 if provider == "anthropic" else 3)
