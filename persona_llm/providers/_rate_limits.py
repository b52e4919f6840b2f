"""What the providers' rate-limit headers say, read into numbers.

OpenAI and Azure OpenAI send ``x-ratelimit-limit-*``, ``x-ratelimit-remaining-requests`` /
``-tokens`` and ``x-ratelimit-reset-requests`` / ``-tokens`` (a duration such as ``"1s"``,
``"6m0s"``, ``"20ms"``; Azure often sends no reset); Anthropic sends
``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``
(the reset an RFC 3339 time). Gemini sends none. A 429 may add ``retry-after``, which the
error already carries as `RateLimitError.retry_after`. A header that does not parse is left
out (logged at DEBUG), never raised. Only the rate limiter imports this module (the
headers are caught by `persona_llm.providers._raw.note`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "NO_RESET_HOLD",
    "ProviderLimit",
    "parse_duration",
    "parse_reset_time",
    "provider_limits",
]

logger = logging.getLogger(__name__)

#: Seconds a "0 remaining" without any reset header holds calls (Azure sends no reset).
NO_RESET_HOLD = 1.0

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_OPENAI = "x-ratelimit-"
_ANTHROPIC = "anthropic-ratelimit-"


@dataclass(frozen=True)
class ProviderLimit:
    """One of the provider's limits as its headers said.

    Attributes:
        name: ``requests``, ``tokens``, ``input-tokens`` or ``output-tokens``.
        remaining: what the provider said is left.
        reset: seconds until it is fully replenished (None: the provider did not say).
        header: the remaining header's name, for messages.
        limit: the limit itself (None: not sent, or not a number).
    """

    name: str
    remaining: float
    reset: float | None
    header: str
    limit: float | None = None

    def refill_rate(self) -> float:
        """Units a second the provider gives back, when its limit refills evenly until the
        reset (both OpenAI and Anthropic replenish continuously); 0 when unknown."""
        if self.limit is None or self.reset is None or self.reset <= 0:
            return 0.0
        return max(self.limit - self.remaining, 0.0) / self.reset


def parse_duration(text: str) -> float:
    """Seconds of an OpenAI reset duration (``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``).

    Raises:
        ValueError: not such a duration.
    """
    text = text.strip()
    pieces = _DURATION.findall(text)
    if not pieces or "".join(n + u for n, u in pieces) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in pieces)


def parse_reset_time(text: str, now: float) -> float:
    """Seconds from `now` (Unix time) until an RFC 3339 time (0 when it has passed).

    Raises:
        ValueError: not an RFC 3339 time with a UTC offset.
    """
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"no UTC offset in {text!r}")
    return max(when.timestamp() - now, 0.0)


def provider_limits(
    replies: Iterable[Mapping[str, str]], *, now: float | None = None
) -> list[ProviderLimit]:
    """The limits the headers of `replies` state, the last reply's winning per limit."""
    found: dict[str, ProviderLimit] = {}
    for headers in replies:
        values: dict[str, str] = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered.startswith((_OPENAI, _ANTHROPIC)):
                values[lowered] = value
        if values:
            for limit in _limits(values, time.time() if now is None else now):
                found[limit.name] = limit
    return list(found.values())


def _limits(values: dict[str, str], now: float) -> Iterator[ProviderLimit]:
    for name in ("requests", "tokens", "input-tokens", "output-tokens"):
        for remaining_key, reset_key, limit_key, read_reset in (
            (
                f"{_OPENAI}remaining-{name}",
                f"{_OPENAI}reset-{name}",
                f"{_OPENAI}limit-{name}",
                parse_duration,
            ),
            (
                f"{_ANTHROPIC}{name}-remaining",
                f"{_ANTHROPIC}{name}-reset",
                f"{_ANTHROPIC}{name}-limit",
                None,
            ),
        ):
            if remaining_key not in values:
                continue
            try:
                remaining = float(values[remaining_key])
                reset_text = values.get(reset_key)
                reset: float | None = None
                if reset_text is not None:
                    reset = (
                        read_reset(reset_text)
                        if read_reset is not None
                        else parse_reset_time(reset_text, now)
                    )
            except ValueError:
                logger.debug(
                    "ignoring a rate-limit header that does not parse: %s=%r, %s=%r",
                    remaining_key,
                    values.get(remaining_key),
                    reset_key,
                    values.get(reset_key),
                )
                continue
            if remaining >= 0 and (reset is None or reset >= 0):
                limit = _number(values.get(limit_key))
                yield ProviderLimit(name, remaining, reset, remaining_key, limit)


def _number(text: str | None) -> float | None:
    """A limit header's value, None when absent or not a positive number."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 and value != float("inf") else None
