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
installed. A logger an SDK creates later (a module it imports on first use) is covered by the
log-record factory, which `install` wraps: a record whose logger name falls under
`SDK_LOGGERS` is redacted as it is made. The wrapper chains to the factory that was in place,
and checks one string prefix for every other record, only for records that are emitted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

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
_PREFIXES = tuple(f"{name}." for name in SDK_LOGGERS)


class _RedactingFactory:
    """Wraps the log-record factory: records of SDK loggers created after `install`."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        name = record.name
        if _state["enabled"] and (name in SDK_LOGGERS or name.startswith(_PREFIXES)):
            _filter.filter(record)
        return record


def _wrap_factory() -> None:
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


def _unwrap_factory() -> None:
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingFactory):  # else someone wrapped it since: leave theirs
        logging.setLogRecordFactory(current.inner)


def _loggers() -> list[logging.Logger]:
    existing = [
        name
        for name, item in logging.root.manager.loggerDict.items()
        if isinstance(item, logging.Logger) and name.startswith(_PREFIXES)
    ]
    return [logging.getLogger(name) for name in {*SDK_LOGGERS, *existing}]


def install(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Put the filter on the SDK and transport loggers (again), adding `secrets` to redact."""
    with _lock:
        _state["enabled"] = True
        _filter.secrets = _filter.secrets | {s for s in secrets if s}
        _wrap_factory()
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
        _unwrap_factory()
        for logger in _loggers():
            logger.removeFilter(_filter)
