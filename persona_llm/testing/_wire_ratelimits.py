"""The providers' rate-limit headers, for replies that say how much of a limit is left.

OpenAI (and Azure) send ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` on every
reply, resets as Go durations (``"6m0s"``, ``"20ms"``); Anthropic sends
``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``,
resets as RFC 3339 times. Put them on any reply::

    emu.enqueue("openai", Reply(wire.openai_chat("Hi"),
                                headers=wire.openai_rate_headers(remaining_requests=0,
                                                                 reset_requests="2s")))
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

__all__ = ["anthropic_rate_headers", "go_duration", "openai_rate_headers"]


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes it: ``"20ms"`` under a second, else ``"6m0s"``, ``"1s"``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:g}s"
    return f"{int(minutes)}m{text}" if minutes else text


def openai_rate_headers(
    *,
    limit_requests: int = 500,
    remaining_requests: int = 499,
    reset_requests: str | float = "120ms",
    limit_tokens: int = 200_000,
    remaining_tokens: int = 199_950,
    reset_tokens: str | float = "15ms",
) -> dict[str, str]:
    """OpenAI's rate-limit headers (a reset given in seconds is written as a duration)."""

    def reset(value: str | float) -> str:
        return value if isinstance(value, str) else go_duration(value)

    return {
        "x-ratelimit-limit-requests": str(limit_requests),
        "x-ratelimit-limit-tokens": str(limit_tokens),
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": str(remaining_tokens),
        "x-ratelimit-reset-requests": reset(reset_requests),
        "x-ratelimit-reset-tokens": reset(reset_tokens),
    }


def anthropic_rate_headers(
    *,
    remaining_requests: int = 49,
    remaining_tokens: int = 39_950,
    remaining_input_tokens: int = 29_960,
    remaining_output_tokens: int = 7_990,
    reset_in: float = 1.0,
    limits: tuple[int, int, int, int] = (50, 40_000, 30_000, 8_000),
) -> dict[str, str]:
    """Anthropic's rate-limit headers; every reset `reset_in` seconds from now, written as
    Anthropic does (whole seconds, UTC, rounded up so the reset is never sooner)."""
    when = datetime.fromtimestamp(math.ceil(time.time() + reset_in), tz=timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    headers: dict[str, str] = {}
    remaining = (
        remaining_requests,
        remaining_tokens,
        remaining_input_tokens,
        remaining_output_tokens,
    )
    for name, limit, left in zip(
        ("requests", "tokens", "input-tokens", "output-tokens"), limits, remaining, strict=True
    ):
        headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{name}-remaining"] = str(left)
        headers[f"anthropic-ratelimit-{name}-reset"] = stamp
    return headers
