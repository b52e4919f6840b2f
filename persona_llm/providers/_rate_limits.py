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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "NO_RESET_HOLD",
    "ProviderLimit",
    "parse_duration",
    "parse_reset_time",
    "plenty_left",
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


# Per limit and header family: the remaining, reset and limit headers, and the reset's form.
_FAMILIES: tuple[tuple[str, str, str, str, bool], ...] = tuple(
    (name, *keys, openai)
    for name in ("requests", "tokens", "input-tokens", "output-tokens")
    for keys, openai in (
        ((f"{_OPENAI}remaining-{name}", f"{_OPENAI}reset-{name}", f"{_OPENAI}limit-{name}"), True),
        (
            (
                f"{_ANTHROPIC}{name}-remaining",
                f"{_ANTHROPIC}{name}-reset",
                f"{_ANTHROPIC}{name}-limit",
            ),
            False,
        ),
    )
)
_PREFIXES = (_OPENAI.encode(), _ANTHROPIC.encode())
_FIRST = frozenset(b"xXaA")  # most headers are passed over on their first byte


#: The remaining headers' names (raw bytes, and text), each to its limit's name.
_REMAINING = {family[1].encode(): family[0] for family in _FAMILIES}
_REMAINING_TEXT = {family[1]: family[0] for family in _FAMILIES}
_REQUESTS = frozenset(key for key, name in _REMAINING.items() if name == "requests")


def plenty_left(replies: Sequence[Any], tokens: float) -> bool:
    """Whether every remaining header of `replies` leaves what a call of `tokens` needed (1
    of a requests limit, at most `tokens` of a token limit). True means no provider limit
    is short of what the call needed: the usual reply, read in one pass over httpx's header
    triples, without decoding them (False also when a value does not parse)."""
    try:
        for headers in replies:
            try:  # an attribute read, not ``getattr(headers, "_list", None)``: a third the cost
                triples = headers._list
            except AttributeError:
                triples = None
            if type(triples) is list and (not triples or len(triples[0]) == 3):  # httpx
                for _, name, value in triples:
                    if name in _REMAINING and float(value) < (1.0 if name in _REQUESTS else tokens):
                        return False
                continue
            for limit, value in _remaining(headers):
                if float(value) < (1 if limit == "requests" else tokens):
                    return False
    except ValueError:
        return False
    return True


def _remaining(headers: Any) -> list[tuple[str, str | bytes]]:
    """``(limit name, value)`` of each remaining header of one reply (`plenty_left` reads
    httpx's headers from the bytes triples they keep: its `raw` property copies them)."""
    raw = getattr(headers, "raw", None)
    if isinstance(raw, list):
        return [(_REMAINING[k.lower()], v) for k, v in raw if k.lower() in _REMAINING]
    pairs = headers.items()
    return [(_REMAINING_TEXT[k.lower()], v) for k, v in pairs if k.lower() in _REMAINING_TEXT]


def provider_limits(
    replies: Sequence[Any],
    *,
    wanted: Callable[[str, float], bool] | None = None,
    now: float | None = None,
) -> list[ProviderLimit]:
    """The limits the headers of `replies` state, the last reply's winning per limit.

    Args:
        replies: header mappings (``httpx`` headers are read from their raw bytes).
        wanted: ``wanted(name, remaining)``: whether to read the rest of that limit (its
            reset and limit); the others are left out at the cost of one number each.
        now: Unix time for RFC 3339 resets (default: the clock).
    """
    found: list[ProviderLimit] = []
    seen: set[str] = set()
    for headers in reversed(replies):  # the last reply is the freshest
        values = _rate_values(headers)
        if values:
            for limit in _limits(values, seen, wanted, time.time() if now is None else now):
                found.append(limit)
    return found


def _rate_values(headers: Any) -> dict[str, str]:
    """The rate-limit headers of one reply, names lower-cased."""
    raw = getattr(headers, "raw", None)  # httpx: bytes pairs, no decoding of the rest
    if isinstance(raw, list):
        return {
            key.lower().decode("latin-1"): value.decode("latin-1")
            for key, value in raw
            if key and key[0] in _FIRST and key.lower().startswith(_PREFIXES)
        }
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith((_OPENAI, _ANTHROPIC))
    }


def _limits(
    values: dict[str, str],
    seen: set[str],
    wanted: Callable[[str, float], bool] | None,
    now: float,
) -> Iterator[ProviderLimit]:
    for name, remaining_key, reset_key, limit_key, openai in _FAMILIES:
        text = values.get(remaining_key)
        if text is None or name in seen:
            continue
        seen.add(name)
        reset_text = values.get(reset_key)
        try:
            remaining = float(text)
            if wanted is not None and not wanted(name, remaining):
                continue
            reset: float | None = None
            if reset_text is not None:
                reset = parse_duration(reset_text) if openai else parse_reset_time(reset_text, now)
        except ValueError:
            logger.debug(
                "ignoring a rate-limit header that does not parse: %s=%r, %s=%r",
                remaining_key,
                text,
                reset_key,
                reset_text,
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
