"""Secrets never leave the library: messages, reprs, chained exceptions, logs."""

from __future__ import annotations

import logging
import traceback

import pytest

from persona_llm import AuthenticationError, LLMError
from persona_llm.errors import REDACTED, redact, sanitize_exception
from persona_llm.providers._errors import error_from_status

OPENAI_KEY = "sk-proj-AbCdEf1234567890abcdef"
ANTHROPIC_KEY = "sk-ant-api03-AbCdEf1234567890"
GOOGLE_KEY = "AIzaSyA1234567890abcdefghijklmnopqrstu"
AZURE_KEY = "0123456789abcdef0123456789abcdef"
PLAIN_KEY = "plain-configured-secret"


@pytest.mark.parametrize(
    "text",
    [
        f"Incorrect API key provided: {OPENAI_KEY}",
        "Incorrect API key provided: sk-abc12***************wxyz",
        f"invalid x-api-key {ANTHROPIC_KEY}",
        f"GET /v1beta/models?key={GOOGLE_KEY}",
        f"api-key: {AZURE_KEY}",
        "Authorization: Bearer abcdefghijklmnop.qrstuv",
    ],
)
def test_key_shapes_are_redacted(text: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY, AZURE_KEY, "abcdefghijklmnop", "abc12"):
        assert secret not in cleaned


@pytest.mark.parametrize(
    "token",
    [
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJl",  # Entra
        "ya29.a0AfB_byCxyz-123456789abcdefghi",  # Google OAuth (Vertex AI)
    ],
)
def test_bare_access_tokens_are_redacted(token: str) -> None:
    cleaned = redact(f"the token {token} has expired")
    assert token not in cleaned and token[:12] not in cleaned
    assert cleaned == f"the token {REDACTED} has expired"


def test_configured_secret_values_are_redacted_whatever_their_shape() -> None:
    error = LLMError(f"echo: {PLAIN_KEY}", provider="openai", secrets=[PLAIN_KEY])
    assert PLAIN_KEY not in str(error) and PLAIN_KEY not in repr(error)


def test_chained_exception_is_sanitized_and_traceback_is_clean() -> None:
    class SDKError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message
            self.body = {"error": {"message": message}}

    with pytest.raises(AuthenticationError) as info:
        try:
            raise SDKError(f"Incorrect API key provided: {PLAIN_KEY} / {OPENAI_KEY}")
        except SDKError as exc:
            sanitize_exception(exc, [PLAIN_KEY])
            raise error_from_status(
                401, str(exc), provider="openai", model="m", secrets=[PLAIN_KEY]
            ) from exc
    text = "".join(traceback.format_exception(info.value))
    cause = info.value.__cause__
    assert cause is not None
    for secret in (PLAIN_KEY, OPENAI_KEY):
        assert secret not in text
        assert secret not in str(cause) and secret not in repr(cause.body)  # type: ignore[attr-defined]


def test_logged_errors_carry_no_key(caplog: pytest.LogCaptureFixture) -> None:
    error = error_from_status(
        429, f"quota for {OPENAI_KEY}", provider="openai", model="m", headers={"retry-after": "3"}
    )
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("persona_llm.test").error("call failed: %s (%r)", error, error)
    assert OPENAI_KEY not in caplog.text
    assert error.retry_after == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "code", "name", "retryable"),
    [
        (401, None, "AuthenticationError", False),
        (400, "API_KEY_INVALID", "AuthenticationError", False),
        (403, None, "PermissionDeniedError", False),
        (404, None, "NotFoundError", False),
        (400, None, "InvalidRequestError", False),
        (400, "content_filter", "ContentFilterError", False),
        (422, None, "InvalidRequestError", False),
        (429, None, "RateLimitError", True),
        (408, None, "LLMTimeoutError", True),
        (500, None, "ProviderUnavailableError", True),
        (529, None, "ProviderUnavailableError", True),
    ],
)
def test_status_mapping(status: int, code: str | None, name: str, retryable: bool) -> None:
    error = error_from_status(status, "boom", provider="p", model="m", code=code)
    assert (type(error).__name__, error.retryable, error.status_code) == (name, retryable, status)


def test_html_error_page_is_named_as_such() -> None:
    error = error_from_status(502, "<html><body>Bad gateway</body></html>", provider="p", model="m")
    assert "HTML page" in str(error) and "<html>" not in str(error)
