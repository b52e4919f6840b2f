"""Plain values of the state settings: the store, the rate limits and the cache.

`Settings.state` builds a `StateConfig` from ``LLM_STATE``, ``LLM_STATE_PREFIX``,
``LLM_STATE_TIMEOUT``, ``LLM_STATE_ON_ERROR``, ``LLM_RATE_LIMITS``, ``LLM_RATE_WINDOW``,
``LLM_CACHE``, ``LLM_CACHE_TTL``, ``LLM_CACHE_INCOMPLETE`` and ``LLM_CACHE_LOCAL_TTL``;
nothing here connects.

``LLM_RATE_LIMITS`` is a ``;``-separated list of ``pattern=limit,limit...``::

    openai/gpt-4o-mini=500rpm,200000tpm; anthropic/*=50rpm,40000itpm,8000otpm; *=20concurrent

A pattern is ``provider/model``, ``provider/*`` or ``*``; every pattern that matches a call's
target applies, and each pattern is **one** budget shared by everything it matches (so
``anthropic/*=50rpm`` is 50 requests a minute for all Anthropic models together). Units:
``rpm`` requests, ``tpm`` tokens (input + output), ``itpm`` input tokens, ``otpm`` output
tokens, each per minute (``LLM_RATE_WINDOW`` seconds, 60 unless changed), and
``concurrent`` requests in flight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from persona_llm.errors import ConfigurationError

if TYPE_CHECKING:
    from persona_llm.settings import Settings

__all__ = ["CacheConfig", "LimitEntry", "StateConfig", "parse_rate_limits", "redact_url"]

UNITS = ("rpm", "tpm", "itpm", "otpm", "concurrent")
_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(rpm|tpm|itpm|otpm|concurrent)\s*$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.\-]*://)([^@/\s]*)@", re.IGNORECASE)


def redact_url(text: str) -> str:
    """`text` with the credentials of any ``scheme://user:password@`` URL in it replaced."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}***@", text)


@dataclass(frozen=True)
class LimitEntry:
    """One ``pattern=limits`` entry of ``LLM_RATE_LIMITS`` (None: not limited)."""

    pattern: str
    rpm: float | None = None
    tpm: float | None = None
    itpm: float | None = None
    otpm: float | None = None
    concurrent: int | None = None

    def matches(self, provider: str, model: str) -> bool:
        """Whether this entry applies to calls to ``provider/model``."""
        if self.pattern == "*":
            return True
        want_provider, _, want_model = self.pattern.partition("/")
        return want_provider == provider and want_model in ("*", model)

    def describe(self) -> str:
        """``500rpm, 200000tpm``."""
        parts = [f"{value:g}{unit}" for unit in UNITS if (value := getattr(self, unit)) is not None]
        return ", ".join(parts)


def parse_rate_limits(text: str) -> tuple[LimitEntry, ...]:
    """``LLM_RATE_LIMITS`` parsed (see the module docstring).

    Raises:
        ConfigurationError: an entry without ``=``, a bad pattern, an unknown unit.
    """
    entries: list[LimitEntry] = []
    for raw in (item.strip() for item in text.split(";")):
        if not raw:
            continue
        pattern, sep, limits = raw.partition("=")
        pattern = pattern.strip()
        if not sep or not limits.strip():
            raise ConfigurationError(
                f"LLM_RATE_LIMITS entry {raw!r}: write pattern=limits, e.g. "
                "openai/gpt-4o-mini=500rpm,200000tpm"
            )
        if pattern != "*" and not re.fullmatch(r"[\w.\-@]+/[\w.\-:*/]+", pattern):
            raise ConfigurationError(
                f"LLM_RATE_LIMITS pattern {pattern!r}: use provider/model, provider/* or *"
            )
        values: dict[str, float] = {}
        for item in limits.split(","):
            match = _LIMIT.match(item)
            if match is None or float(match.group(1)) <= 0:
                raise ConfigurationError(
                    f"LLM_RATE_LIMITS entry {raw!r}: {item.strip()!r} is not a positive "
                    f"number followed by one of {', '.join(UNITS)}"
                )
            values[match.group(2).lower()] = float(match.group(1))
        concurrent = values.pop("concurrent", None)
        entries.append(
            LimitEntry(
                pattern,
                concurrent=int(concurrent) if concurrent is not None else None,
                **values,
            )
        )
    patterns = [e.pattern for e in entries]
    if len(set(patterns)) != len(patterns):
        raise ConfigurationError("LLM_RATE_LIMITS names a pattern twice")
    return tuple(entries)


@dataclass(frozen=True)
class CacheConfig:
    """``LLM_CACHE``: ``off``, ``memory``, ``sqlite:///path.db`` or ``redis`` (the store)."""

    kind: Literal["off", "memory", "sqlite", "redis"] = "off"
    path: str | None = None
    ttl: float | None = 86400.0
    incomplete: bool = False
    local_ttl: float = 5.0  # LLM_CACHE_LOCAL_TTL: Redis replies kept per process, seconds

    @classmethod
    def parse(
        cls, text: str, ttl: float | None, incomplete: bool, local_ttl: float = 5.0
    ) -> CacheConfig:
        """Raises `ConfigurationError` for an unknown value."""
        value = text.strip()
        ttl = ttl or None
        if value.lower() in ("", "off", "none", "false", "0"):
            return cls("off")
        if value.lower() in ("memory", "redis"):
            return cls(value.lower(), None, ttl, incomplete, local_ttl)  # type: ignore[arg-type]
        if value.lower().startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return cls("sqlite", value[len("sqlite:///") :], ttl, incomplete, local_ttl)
        raise ConfigurationError(
            f"LLM_CACHE={value!r} is not understood; use off, memory, sqlite:///path.db "
            "or redis (the LLM_STATE store)"
        )


@dataclass(frozen=True)
class StateConfig:
    """The store and what is built on it."""

    url: str = "memory"
    prefix: str = "persona-llm:"
    timeout: float = 0.2
    on_error: Literal["open", "closed"] = "open"
    limits: tuple[LimitEntry, ...] = ()
    window: float = 60.0
    cache: CacheConfig = CacheConfig()

    @classmethod
    def from_settings(cls, settings: Settings) -> StateConfig:
        """Parse and check the state variables of `settings` (raises `ConfigurationError`)."""
        return cls(
            url=cls.check_url(settings.llm_state),
            prefix=settings.llm_state_prefix,
            timeout=settings.llm_state_timeout,
            on_error=settings.llm_state_on_error,
            limits=parse_rate_limits(settings.llm_rate_limits),
            window=settings.llm_rate_window,
            cache=CacheConfig.parse(
                settings.llm_cache,
                settings.llm_cache_ttl,
                settings.llm_cache_incomplete,
                settings.llm_cache_local_ttl,
            ),
        )

    @property
    def enabled(self) -> bool:
        """Whether any state feature is on (a shared store, rate limits or a cache)."""
        return self.is_redis or bool(self.limits) or self.cache.kind != "off"

    @property
    def is_redis(self) -> bool:
        """Whether the store is a Redis server."""
        return self.url.startswith(("redis://", "rediss://", "unix://"))

    @property
    def safe_url(self) -> str:
        """`url` with its password redacted."""
        return redact_url(self.url)

    @staticmethod
    def check_url(url: str) -> str:
        """``memory`` or a Redis URL; raises `ConfigurationError` otherwise."""
        value = url.strip()
        if value.lower() == "memory":
            return "memory"
        parts = urlsplit(value)
        if parts.scheme in ("redis", "rediss") and parts.hostname:
            return urlunsplit(parts)
        if parts.scheme == "unix" and parts.path:
            return value
        raise ConfigurationError(
            f"LLM_STATE={redact_url(value)!r} is not understood; use memory or "
            "redis://host:6379/0 (rediss:// for TLS)"
        )
