"""What a google-genai call raises, translated into the `LLMError` hierarchy (one place).

`GeminiErrors(config).on(model)` is the context manager every SDK call of the Gemini adapter
runs in: an ``google.genai.errors.APIError`` becomes the class of its status (with Gemini's
``ErrorInfo.reason`` and ``RetryInfo`` read, Vertex AI's 401/403 explained), an httpx2 /
httpx / aiohttp error a timeout or connection error, a reply that does not parse a
`ProviderUnavailableError`; each is chained and the key scrubbed from the SDK's exception
too. A class with ``__exit__`` rather than a generator context manager: it is entered on
every call.
"""

from __future__ import annotations

import binascii
import json
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx2
import pydantic
from google.genai import errors as genai_errors
from google.genai.errors import UnknownApiResponseError

from persona_llm.errors import (
    APIConnectionError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    ProviderUnavailableError,
    redact,
    sanitize_exception,
)
from persona_llm.providers._errors import error_from_status
from persona_llm.providers.gemini.mapping import gemini_error_fields
from persona_llm.providers.gemini.vertex import is_google_auth_error, vertex_access_error
from persona_llm.settings import ProviderConfig

__all__ = ["GeminiErrors"]

PROVIDER = "gemini"

# Raised while reading a reply (JSON and pydantic parsing, a thought signature that is not
# base64, or a reply missing what we read from it): a malformed reply. Other ValueErrors are
# the SDK refusing a request.
_PARSE_ERRORS = (json.JSONDecodeError, pydantic.ValidationError, UnknownApiResponseError)
_MALFORMED = (*_PARSE_ERRORS, binascii.Error, AttributeError, KeyError, TypeError)


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` (a parsed error body) with every secret removed from its strings."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


def _transport_error(exc: BaseException) -> type[LLMError] | None:
    """Our class for an HTTP-library error, or None when `exc` is not one."""
    # httpx2 is the SDK's default; httpx and aiohttp are used when installed and chosen.
    libraries = [httpx2, sys.modules.get("httpx")]
    for library in libraries:
        if library is not None and isinstance(exc, library.TimeoutException):
            return LLMTimeoutError
        if library is not None and isinstance(exc, library.TransportError):
            return APIConnectionError
    if isinstance(exc, TimeoutError):
        return LLMTimeoutError
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return APIConnectionError
    return None


class GeminiErrors:
    """The error translation of one adapter (its settings and secrets)."""

    __slots__ = ("config", "secrets")

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.secrets = config.secrets

    def on(self, model: str) -> _Translating:
        """A context manager translating what the SDK call inside it raises."""
        return _Translating(self, model)

    def invalid_options(self, exc: pydantic.ValidationError, model: str) -> InvalidRequestError:
        """The error for options the SDK's config models refused."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'options'}: {error['msg']}"
            for error in exc.errors()
        )
        return InvalidRequestError(
            f"invalid Gemini options ({problems}); options are keyword arguments of "
            "google.genai.types.GenerateContentConfig / EmbedContentConfig",
            provider=PROVIDER,
            model=model,
            secrets=self.secrets,
        )

    def status_error(self, exc: genai_errors.APIError, model: str) -> LLMError:
        """Our error for an error status, the SDK's exception scrubbed."""
        message, code, headers = gemini_error_fields(
            exc.details,
            exc.status,
            str(exc.message or exc),
            getattr(getattr(exc, "response", None), "headers", None),
        )
        sanitize_exception(exc, self.secrets)
        exc.details = _scrub(exc.details, self.secrets)
        if self.config.vertex and exc.code in (401, 403):
            return vertex_access_error(exc.code, message, self.config, model)
        return error_from_status(
            exc.code,
            message,
            provider=PROVIDER,
            model=model,
            code=code,
            headers=headers,
            secrets=self.secrets,
        )

    def other_error(self, exc: Exception, model: str) -> LLMError:
        """Our error for anything else the call raised."""
        where: dict[str, Any] = {"provider": PROVIDER, "model": model, "secrets": self.secrets}
        if self.config.vertex and is_google_auth_error(exc):
            return vertex_access_error(None, f"{type(exc).__name__}: {exc}", self.config, model)
        kind = _transport_error(exc)
        if kind is not None:
            what = (
                f"no reply within {self.config.timeout:g}s"
                if kind is LLMTimeoutError
                else f"connection to {self.config.base_url or 'the Gemini API'} failed or dropped"
            )
            return kind(f"{what}: {type(exc).__name__}: {exc}", **where)
        if isinstance(exc, _MALFORMED):
            return ProviderUnavailableError(
                f"malformed reply from gemini: {type(exc).__name__}: {exc}", **where
            )
        if isinstance(exc, ValueError):  # the SDK checks some options only while sending
            return InvalidRequestError(f"the google-genai SDK rejected the request: {exc}", **where)
        return LLMError(f"unexpected error from the google-genai SDK: {exc!r}", **where)


class _Translating:
    __slots__ = ("errors", "model")

    def __init__(self, errors: GeminiErrors, model: str) -> None:
        self.errors = errors
        self.model = model

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, LLMError) or not isinstance(exc, Exception):
            return
        if isinstance(exc, genai_errors.APIError):
            raise self.errors.status_error(exc, self.model) from exc
        error = self.errors.other_error(exc, self.model)
        raise error from sanitize_exception(exc, self.errors.secrets)
