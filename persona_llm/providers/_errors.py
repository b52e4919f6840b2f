"""The status-code half of error translation, shared by every adapter.

Each adapter's `_map_errors` context manager knows its SDK's exception classes and extracts
status, message, code and headers; this module turns those plain values into the right
`LLMError` subclass, so the HTTP semantics live in one place.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from typing import Any

from persona_llm.errors import (
    AuthenticationError,
    ContentFilterError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.providers._raw import note

__all__ = ["error_from_status", "looks_like_html", "retry_after_seconds", "where_and_why"]

_CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_AUTH_CODES = frozenset({"API_KEY_INVALID", "invalid_api_key", "authentication_error"})


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The provider's wait hint: ``retry-after-ms``, then ``retry-after`` (seconds or a date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def looks_like_html(text: str) -> bool:
    """True for an HTML page (a proxy's or gateway's error page instead of the provider's JSON)."""
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head


def error_from_status(
    status: int | None,
    message: str,
    *,
    provider: str,
    model: str | None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
    **extra: Any,
) -> LLMError:
    """The `LLMError` for an HTTP error reply.

    Args:
        status: HTTP status code.
        message: the provider's error message (redacted here).
        code: the provider's machine-readable code or reason (e.g. ``content_filter``,
            ``API_KEY_INVALID``), which can override what the status alone says.
        headers: response headers, read for ``Retry-After`` (and kept for the rate
            limiter when it collects them: a 429 says which limit ran out).
    """
    if headers is not None:
        note(headers)
    if looks_like_html(message):
        message = f"the provider (or a proxy in front of it) answered an HTML page, status {status}"
    kwargs: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "status_code": status,
        "secrets": secrets,
        **extra,
    }
    if code in _AUTH_CODES or status == 401:
        return AuthenticationError(f"{message} — check the {provider} API key", **kwargs)
    if code in _CONTENT_FILTER_CODES:
        return ContentFilterError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 404:
        return NotFoundError(f"{message} — check the model or deployment name", **kwargs)
    if status == 429:
        return RateLimitError(message, retry_after=retry_after_seconds(headers), **kwargs)
    if status == 408:
        return LLMTimeoutError(message, **kwargs)
    if status == 409 or status is None or status >= 500:
        retry_after = retry_after_seconds(headers)
        return ProviderUnavailableError(message, retryable=True, retry_after=retry_after, **kwargs)
    if status in (400, 413, 422):
        return InvalidRequestError(message, **kwargs)
    return LLMError(message, retryable=False, **kwargs)


def where_and_why(exc: BaseException) -> str:
    """``host:port`` of the request that failed and what the transport said (``[Errno 111]
    Connection refused``, a DNS or TLS failure), for a connection error's message.

    Never the URL: it may carry a password.
    """
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    except (AttributeError, RuntimeError):  # an exception built without a request
        where = "an unknown address"
    cause = exc.__cause__ or exc.__context__
    while cause is not None and not str(cause) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return f"{where}, or the connection dropped: {exc}"
    why = f"{type(cause).__name__}: {cause}" if str(cause) else f"{type(cause).__name__} ({exc})"
    return f"{where}, or the connection dropped: {why}"
