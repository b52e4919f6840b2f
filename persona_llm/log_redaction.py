"""Keys kept out of the SDKs' and HTTP transports' own log records.

At DEBUG level the transports (``httpcore2``, ``httpx2``, ...) log every response header and
the SDKs (``anthropic._base_client``, ``openai._base_client``) log request options and
response headers, so a provider or proxy that echoes the key in a header would have it
written to the application's logs. While a provider adapter is in use, a `RedactingFilter`
sits on those loggers and rewrites each of their records with `persona_llm.errors.redact`:
the configured keys (and any 6 characters of one) and anything shaped like a key become
``[REDACTED]``.

It costs nothing while those loggers are below DEBUG (a filter runs only for records that
are emitted). To take it off::

    from persona_llm import log_redaction

    log_redaction.uninstall()   # until log_redaction.install() is called again

Records are rewritten where they are created, so the filter sits on each SDK and transport
logger by name (`SDK_LOGGERS`) and on every logger below them that exists when it is
installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from persona_llm.errors import redact

__all__ = ["SDK_LOGGERS", "RedactingFilter", "install", "install_for_provider", "uninstall"]

_TRANSPORT_PARTS = ("connection", "http11", "http2", "proxy", "socks")
SDK_LOGGERS: tuple[str, ...] = (
    "openai",
    "openai._base_client",
    "anthropic",
    "anthropic._base_client",
    "google_genai",
    "google_genai._api_client",
    "google_genai.models",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    *(f"{core}.{part}" for core in ("httpcore", "httpcore2") for part in _TRANSPORT_PARTS),
)
"""Loggers (and, at install time, their descendants) whose records are redacted."""


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with the secrets redacted."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text, self.secrets), None
        return True


_filter = RedactingFilter()
_lock = threading.Lock()
_state = {"enabled": True}


def _loggers() -> list[logging.Logger]:
    prefixes = tuple(f"{name}." for name in SDK_LOGGERS)
    existing = [
        name
        for name, item in logging.root.manager.loggerDict.items()
        if isinstance(item, logging.Logger) and name.startswith(prefixes)
    ]
    return [logging.getLogger(name) for name in {*SDK_LOGGERS, *existing}]


def install(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Put the filter on the SDK and transport loggers (again), adding `secrets` to redact."""
    with _lock:
        _state["enabled"] = True
        _filter.secrets = _filter.secrets | {s for s in secrets if s}
        for logger in _loggers():
            if _filter not in logger.filters:
                logger.addFilter(_filter)
    return _filter


def install_for_provider(secrets: Iterable[str]) -> None:
    """What each provider adapter calls when it is built: `install` unless `uninstall`ed."""
    if _state["enabled"]:
        install(secrets)


def uninstall() -> None:
    """Take the filter off every logger and forget the secrets; adapters built later do not
    put it back (`install` does)."""
    with _lock:
        _state["enabled"] = False
        _filter.secrets = frozenset()
        for logger in _loggers():
            logger.removeFilter(_filter)
