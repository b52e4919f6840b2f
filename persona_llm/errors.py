"""One error hierarchy for every provider, with secrets removed from every message.

The hierarchy::

    LLMError
    ├── ConfigurationError        bad or missing settings, unknown provider, malformed LLM_SERVICE
    │                             (also a ValueError)
    ├── AuthenticationError       401, invalid key (Gemini answers 400 API_KEY_INVALID)
    ├── PermissionDeniedError     403
    ├── NotFoundError             404: unknown model or deployment
    ├── InvalidRequestError       400 / 422, or a bad argument refused before sending
    │   │                         (also a ValueError)
    │   └── ContentFilterError    the provider's safety system rejected the prompt or reply
    ├── RateLimitError            429 (retryable; `retry_after` seconds when the provider says)
    ├── ProviderUnavailableError  5xx, 529 overloaded, non-JSON error pages (retryable)
    ├── LLMTimeoutError           the request timed out (retryable)
    ├── APIConnectionError        could not connect, or the connection dropped (retryable)
    ├── ResponseParseError        a reply that should be JSON (or match a schema) does not
    ├── BudgetExceededError       a track_usage() scope's spend limit is reached (usage.tracker)
    └── ToolStepLimitError        run_tools() hit max_steps (persona_llm.features.tools)

Provider SDK exceptions are translated at the adapter boundary and chained with
``raise ... from``; `sanitize_exception` scrubs the chained SDK exception as well, so a
traceback shows no key even when the provider echoed it back.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "ConfigurationError",
    "ContentFilterError",
    "InvalidRequestError",
    "LLMError",
    "LLMTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ResponseParseError",
    "redact",
    "sanitize_exception",
]

REDACTED = "[REDACTED]"

# Shapes of credentials, most specific first. Partial echoes such as OpenAI's
# "Incorrect API key provided: sk-abc***xyz" are caught by the same patterns.
_KEY_PATTERNS = re.compile(
    "|".join(
        [
            r"sk-ant-[A-Za-z0-9_\-*]{6,}",  # Anthropic
            r"sk-[A-Za-z0-9_\-*]{6,}",  # OpenAI (sk-, sk-proj-, sk-svcacct-)
            r"AIza[0-9A-Za-z_\-]{20,}",  # Google API keys
            r"(?i:bearer)\s+[A-Za-z0-9._~+/\-=*]{8,}",  # Authorization headers
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWTs (Entra ID)
            r"(?i:(?:api[-_]?key|x-goog-api-key)[\"']?\s*[:=]\s*[\"']?|[?&]key=)[A-Za-z0-9._\-*]{8,}",
            r"\b[0-9a-fA-F]{32}\b",  # Azure OpenAI keys
        ]
    )
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace configured secret values and anything shaped like an API key in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return _KEY_PATTERNS.sub(REDACTED, text)


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v, secrets) for v in value)
    return value


def sanitize_exception(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """Scrub an exception (and its chain) in place so that printing it shows no secret.

    SDK exceptions keep the provider's error text in `args`, `message` and `body`; the
    request object (whose headers hold the key) is dropped from the exception.
    """
    known = tuple(s for s in secrets if s)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(_redact_value(a, known) for a in current.args)
        for attribute in ("message", "body", "doc", "details"):
            if isinstance(getattr(current, attribute, None), (str, dict, list)):
                # Some SDK classes expose these as read-only properties.
                with contextlib.suppress(AttributeError):
                    setattr(current, attribute, _redact_value(getattr(current, attribute), known))
        # The request and response objects carry the key in their headers: drop them.
        for attribute in ("request", "response"):
            if getattr(current, attribute, None) is not None:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(current, attribute, None)
        current = current.__cause__ or current.__context__
    return exc


class LLMError(Exception):
    """Base of every error the library raises.

    Attributes:
        provider: provider name (``openai``, ``azure``, ...) or None before one was chosen.
        model: model or deployment, when known.
        status_code: the HTTP status, or None when the error did not come from a response.
        retryable: whether trying again later may succeed.
        failures: when fallbacks or a pool tried several targets and all failed, each
            target's error in the order tried (this one first); empty otherwise.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        retryable: bool | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.message = redact(message, secrets)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.failures: list[LLMError] = []
        super().__init__(self.message)

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"[{where}] {self.message}{status}" if where else f"{self.message}{status}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"model={self.model!r}, status_code={self.status_code!r})"
        )


class ConfigurationError(LLMError, ValueError):
    """Settings are missing or wrong; the message names the variable and the fix.

    Also a `ValueError`, so code that guards configuration with ``except ValueError`` works.
    """


class AuthenticationError(LLMError):
    """The provider rejected the credentials (401, or Gemini's 400 API_KEY_INVALID)."""


class PermissionDeniedError(LLMError):
    """The key is valid but may not use this resource (403)."""


class NotFoundError(LLMError):
    """The model or deployment does not exist (404)."""


class InvalidRequestError(LLMError, ValueError):
    """The request was malformed or used a parameter the model does not accept (400/422).

    Also a `ValueError`: a bad argument raises what Python code expects for one.
    """


class ContentFilterError(InvalidRequestError):
    """The provider's safety system blocked the prompt or the reply."""


class RateLimitError(LLMError):
    """Too many requests (429). `retry_after` holds the provider's hint in seconds."""

    default_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderUnavailableError(LLMError):
    """The provider failed or is overloaded (5xx, 529, an HTML page from a proxy).

    `retry_after` holds the provider's ``Retry-After`` hint in seconds, when it sent one.
    """

    default_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class LLMTimeoutError(LLMError):
    """The request did not complete within the configured timeout."""

    default_retryable = True


class APIConnectionError(LLMError):
    """The provider could not be reached, or the connection dropped mid-reply."""

    default_retryable = True


class ResponseParseError(LLMError):
    """A reply that should be JSON, or match a schema, does not.

    Attributes:
        raw_text: the reply text as received.
        errors: the parse or validation errors, as strings.
    """

    def __init__(
        self,
        message: str,
        *,
        raw_text: str = "",
        errors: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.raw_text = raw_text
        self.errors = list(errors)
