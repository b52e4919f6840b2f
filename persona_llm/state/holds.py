"""Holds: the providers' own rate limits, as their headers say, tightening ours.

When a limited call's replies say that less remains of a provider limit than the call
needed (OpenAI and Azure ``x-ratelimit-remaining-*``, Anthropic ``anthropic-ratelimit-*``;
Gemini sends none) or the provider answered 429 with ``retry-after``, the target
(``provider/model``) is held in the store until the provider's reset (`NO_RESET_HOLD`
seconds when it gave none: Azure sends no reset). Both providers refill their limits
continuously and their reset is when the limit is *full* again, so when the reply also
gave the limit itself, the hold refills evenly meanwhile (``(limit - remaining) / reset``
units a second): at 0 of 50 requests left and a 60 s reset, a request comes back every
1.2 s, not after 60 s. Every worker's next reservation checks the holds first
(`persona_llm.state.store.HoldRule`): a call that needs more than is left waits until
enough has refilled (at the latest the reset) within its deadline, else raises
`held_back`'s `RateLimitError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from persona_llm.errors import RateLimitError
from persona_llm.providers._rate_limits import NO_RESET_HOLD, provider_limits
from persona_llm.state.store import Admission, Hold, HoldRule

__all__ = ["NO_RESET_HOLD", "held_back", "holds_from"]

logger = logging.getLogger("persona_llm.state")


def holds_from(rule: HoldRule, replies: Sequence[Any], error: BaseException | None) -> list[Hold]:
    """The provider limits that the call's replies say have less left than it needed.

    Asked after `persona_llm.providers._rate_limits.plenty_left` found a remaining value
    below the call's tokens, or for an error reply; `wanted` reads only the short limits in
    full."""
    holds: list[Hold] = []
    for limit in provider_limits(replies, wanted=_short_of(rule)):
        seconds = NO_RESET_HOLD if limit.reset is None else limit.reset
        if limit.remaining < rule.need(limit.name) and seconds > 0:
            holds.append((limit.name, limit.remaining, seconds, limit.refill_rate()))
    if isinstance(error, RateLimitError) and not error.local and error.retry_after:
        holds.append(("retry-after", 0.0, error.retry_after, 0.0))
    if holds:
        logger.debug("the provider's rate limits hold %s: %s", rule.key, holds)
    return holds


def _short_of(rule: HoldRule) -> Callable[[str, float], bool]:
    """Whether a limit with `remaining` left is short of what this call needed."""
    return lambda name, remaining: remaining < rule.need(name)


def held_back(
    admission: Admission, max_wait: float, rule: HoldRule, provider: str, model: str
) -> RateLimitError:
    """The local refusal when a provider's limit (a hold) has no room in time."""
    name, retry_after = admission.hold, round(admission.wait, 3)
    if name == "retry-after":
        said = f"{provider} answered 429 with retry-after"
    else:
        said = (
            f"{provider}'s rate-limit headers leave {round(admission.used, 2):g} {name} now, "
            f"this call needs {rule.need(name):g}"
        )
    return RateLimitError(
        f"local rate limit ({provider}'s own {name} limit) for {provider}/{model}: {said}; "
        f"no room within the call's {max_wait:g} s deadline; room again in "
        f"{retry_after:g} s, as the provider refills (not a provider 429: no request was "
        "sent; held because LLM_RATE_LIMITS limits this target)",
        retry_after=retry_after,
        local=True,
        provider=provider,
        model=model,
    )
