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
import functools
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
            r"\bya29\.[A-Za-z0-9_\-.]{8,}",  # Google OAuth access tokens (Vertex AI)
            r"(?i:(?:api[-_]?key|x-goog-api-key)[\"']?\s*[:=]\s*[\"']?|[?&]key=)[A-Za-z0-9._\-*]{8,}",
            r"\b[0-9a-fA-F]{32}\b",  # Azure OpenAI keys
        ]
    )
)


FRAGMENT = 6
"""Any run of this many characters of a configured secret is redacted, not only the whole."""


@functools.lru_cache(maxsize=32)
def _fragment_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """Finds, at every position, the start of a `FRAGMENT`-long piece of one of `secrets`."""
    pieces = {s[i : i + FRAGMENT] for s in secrets for i in range(len(s) - FRAGMENT + 1)}
    if not pieces:
        return None
    # A lookahead matches at overlapping positions, so runs longer than FRAGMENT are whole.
    return re.compile("(?=(?:" + "|".join(map(re.escape, sorted(pieces))) + "))")


def _cut_fragments(text: str, pattern: re.Pattern[str]) -> str:
    spans: list[list[int]] = []
    for match in pattern.finditer(text):
        start = match.start()
        if spans and start <= spans[-1][1]:
            spans[-1][1] = start + FRAGMENT
        else:
            spans.append([start, start + FRAGMENT])
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], REDACTED]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace configured secret values, any `FRAGMENT` characters of one (a key's tail
    quoted back, a key cut at a bad character), and anything shaped like an API key; collapse
    base64 payloads (images, documents, audio) to ``<base64 N chars>``."""
    known = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))
    for secret in known:
        text = text.replace(secret, REDACTED)
    pattern = _fragment_pattern(known)
    if pattern is not None:
        text = _cut_fragments(text, pattern)
    text = _KEY_PATTERNS.sub(REDACTED, text)
    return _BASE64_RUN.sub(_payload_label, text) if len(text) >= _BASE64_MIN else text


# A data: URL, or a run of base64 (standard or URL-safe) long enough to be a payload rather
# than a word, an id or a key: what the SDKs' DEBUG request logs and echoed errors could hold.
_BASE64_MIN = 200
_BASE64_RUN = re.compile(rf"(data:[\w.+/-]+;base64,)?[A-Za-z0-9+/_-]{{{_BASE64_MIN},}}={{0,2}}")


def _payload_label(match: re.Match[str]) -> str:
    prefix = match.group(1) or ""
    size = len(match.group(0)) - len(prefix)
    return f"{prefix}<base64 {size:,} chars>"


_MAX_DEPTH = 6


def _scrubbed(value: Any, secrets: tuple[str, ...], seen: set[int], depth: int) -> Any:
    """`value` with every string in it redacted; containers are rebuilt, objects scrubbed in
    place (their attributes, whatever their names), HTTP requests and responses dropped."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
        cleaned = redact(text, secrets)
        return value if cleaned == text else cleaned.encode()
    if value is None or isinstance(value, (int, float, bool)) or depth > _MAX_DEPTH:
        return value
    if id(value) in seen:
        return value
    seen.add(id(value))
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_scrubbed(v, secrets, seen, depth + 1) for v in value]
        if isinstance(value, list):
            return items
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value  # nothing redacted: keep the tuple as it is (its type may need fields)
        make = getattr(type(value), "_make", None)  # a namedtuple (aiohttp's ConnectionKey...)
        return make(items) if make is not None else tuple(items)
    if _is_http_message(value):
        return None  # an HTTP request or response: its headers hold the key
    _scrub_attributes(value, secrets, seen, depth + 1)
    return value


def _is_http_message(value: Any) -> bool:
    try:
        return hasattr(value, "headers") and (
            hasattr(value, "url") or hasattr(value, "status_code")
        )
    except Exception:  # a property that fails to compute: treat it as one, drop it
        return True


def _scrub_attributes(obj: Any, secrets: tuple[str, ...], seen: set[int], depth: int) -> None:
    attributes = dict(getattr(obj, "__dict__", None) or {})
    extra = getattr(obj, "__pydantic_extra__", None)  # SDK models keep unknown fields here
    for name, value in attributes.items():
        cleaned = _scrubbed(value, secrets, seen, depth)
        if cleaned is not value:
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                object.__setattr__(obj, name, cleaned)
    if isinstance(extra, dict):
        for name, value in list(extra.items()):
            extra[name] = _scrubbed(value, secrets, seen, depth)


def sanitize_exception(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """Scrub an exception (and its chain) in place so that printing it shows no secret.

    Every attribute is scrubbed, whatever its name (SDK releases add new ones, such as
    anthropic's ``api_message``): strings are redacted, containers and objects (an error
    body, a pydantic ``details`` model) walked, and HTTP request and response objects,
    whose headers hold the key, dropped.
    """
    known = tuple(s for s in secrets if s)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(_scrubbed(a, known, seen, 0) for a in current.args)
        _scrub_attributes(current, known, seen, 0)
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
    """Too many requests (429). `retry_after` holds the provider's hint in seconds.

    `local` is True when our own client-side limit (``LLM_RATE_LIMITS``) refused the call
    after waiting for room: nothing was sent, `status_code` is None, and the retry wrapper
    does not retry it (a fallback still takes over).
    """

    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        local: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.local = local


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
