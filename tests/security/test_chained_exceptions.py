"""The SDK exception chained under an `LLMError` holds no piece of the key in any attribute,
whatever its name: a walk over every attribute fails as soon as an SDK release adds one that
carries the provider's echo (as anthropic 2.x did with ``api_message``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

from persona_llm.containers import Container
from persona_llm.errors import FRAGMENT, LLMError, sanitize_exception
from persona_llm.testing import wire
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, Reply
from tests.security.test_keys import MODELS, settings_for

KEY = "zkey0Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8"


def echo_body(provider: str) -> Any:
    """An error body quoting the key in its message and in nested, SDK-parsed fields."""
    text = f"invalid key {KEY}"
    if provider == "anthropic":
        body = wire.anthropic_error("authentication_error", text)
        body["error"]["details"] = {"error_code": f"bad_key_{KEY}", "hint": text}
        return body
    if provider == "gemini":
        body = wire.gemini_error(400, text, "INVALID_ARGUMENT", "API_KEY_INVALID")
        body["error"]["details"].append({"@type": "x", "metadata": {"key": KEY}})
        return body
    body = wire.openai_error(text, type="invalid_request_error", code="invalid_api_key")
    body["error"]["param"] = KEY
    return body


def strings_in(value: Any, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """Every string reachable from `value` through attributes, items and pydantic extras."""
    seen = set() if seen is None else seen
    if isinstance(value, str):
        yield value
        return
    if isinstance(value, (bytes, bytearray)):
        yield bytes(value).decode("utf-8", "replace")
        return
    if value is None or isinstance(value, (int, float)) or id(value) in seen or depth > 8:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key, seen, depth + 1)
            yield from strings_in(item, seen, depth + 1)
        return
    if isinstance(value, (list, tuple, set)):
        for item in value:
            yield from strings_in(item, seen, depth + 1)
        return
    if hasattr(value, "headers"):  # a request or response left attached
        yield str(dict(getattr(value, "headers", {}) or {}))
    for item in (getattr(value, "__dict__", None) or {}).values():
        yield from strings_in(item, seen, depth + 1)
    yield from strings_in(getattr(value, "__pydantic_extra__", None), seen, depth + 1)


def chain(error: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = error
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def assert_no_piece_of_the_key(error: BaseException) -> None:
    for exc in chain(error):
        for text in [*strings_in(exc.args), *strings_in(exc)]:
            for i in range(len(KEY) - FRAGMENT + 1):
                assert KEY[i : i + FRAGMENT] not in text, (type(exc).__name__, text)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_attribute_of_the_chained_sdk_exception_is_scrubbed(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}", **settings_for(emu, provider, KEY)
    )
    status = 400 if provider == "gemini" else 401
    emu.enqueue(provider, Reply(echo_body(provider), status=status, headers={"x-echo": KEY}))
    with pytest.raises(LLMError) as caught:
        container.chat_client().chat([{"role": "user", "content": "hi"}])
    assert caught.value.__cause__ is not None  # the SDK's exception is chained
    assert_no_piece_of_the_key(caught.value)


class _FutureSDKError(Exception):
    """An SDK exception of a later release: new attribute names, a nested model."""

    def __init__(self) -> None:
        super().__init__("failed")
        self.brand_new_message = f"echo {KEY}"
        self.payload = {"errors": [{"detail": KEY.encode()}]}
        self.nested = type("Detail", (), {})()
        self.nested.reason = f"key={KEY}"


def test_attributes_of_any_name_are_scrubbed() -> None:
    error = _FutureSDKError()
    sanitize_exception(error, [KEY])
    assert_no_piece_of_the_key(error)
    assert error.brand_new_message == "echo [REDACTED]"


class _Key(NamedTuple):
    """A namedtuple like aiohttp's ConnectionKey: it cannot be rebuilt from one iterable."""

    host: str
    port: int
    proxy: str | None


class _TransportError(Exception):
    def __init__(self, key: _Key, other: _Key) -> None:
        super().__init__("cannot connect")
        self.connection_key = key
        self.clean_key = other


def test_namedtuple_attributes_are_scrubbed_and_keep_their_type() -> None:
    """aiohttp's connection errors carry a namedtuple; scrubbing one raised TypeError."""
    leaky = _Key("127.0.0.1", 1, f"http://user:{KEY}@proxy")
    clean = _Key("127.0.0.1", 1, None)
    error = _TransportError(leaky, clean)
    sanitize_exception(error, [KEY])
    assert isinstance(error.connection_key, _Key)
    assert KEY not in str(error.connection_key)
    assert error.connection_key.proxy == "http://user:[REDACTED]@proxy"
    assert error.clean_key is clean
