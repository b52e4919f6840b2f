"""``reasoning=`` on Anthropic: extended thinking with a budget, or adaptive thinking (pure).

* ``none``: nothing is sent (Claude does not think unless asked).
* ``low`` / ``medium`` / ``high`` on Claude 4.6 and later (and Fable, Mythos): ``thinking:
  {"type": "adaptive"}`` with ``output_config: {"effort": <level>}``.
* the same on Claude 3.7 and 4.0-4.5: ``thinking: {"type": "enabled", "budget_tokens": N}``.

The budget N is a share of ``max_tokens`` (the caller's, else the model default): a quarter,
half or three quarters for low, medium, high, never under the API's minimum of 1,024 and
always below ``max_tokens``. A ``max_tokens`` too small for that is refused before sending.
Claude 3.5 and 3 Haiku/Sonnet/Opus cannot think: a level other than ``none`` follows the
``unsupported_params`` policy. Thinking cannot be combined with a forced tool choice
(``required`` or a tool name) or a temperature other than 1: both are refused before sending.
A caller's own ``thinking`` option wins over the level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.types import ChatRequest

__all__ = ["MIN_BUDGET", "reasoning_params", "thinking_mode"]

logger = logging.getLogger(__name__)

MIN_BUDGET = 1024
_SHARE = {"low": 0.25, "medium": 0.5, "high": 0.75}
_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d))?(?:\b|-|$)")
_NO_THINKING = ("claude-3-5-", "claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-2")


def thinking_mode(model: str) -> str | None:
    """``"adaptive"``, ``"budget"``, or None for a model that cannot think."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith(_NO_THINKING):
        return None
    if name.startswith(("claude-fable", "claude-mythos")):
        return "adaptive"
    match = _VERSION.match(name)
    if match is None:
        return "budget" if name.startswith("claude-3-7") else "adaptive"  # unknown: newest
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return "adaptive" if (major, minor) >= (4, 6) else "budget"


def _refuse(message: str, model: str) -> InvalidRequestError:
    return InvalidRequestError(message, provider="anthropic", model=model)


def reasoning_params(
    request: ChatRequest, options: Mapping[str, Any], max_tokens: int, model: str, policy: str
) -> dict[str, Any]:
    """The ``thinking`` (and ``output_config``) fields for ``request.reasoning``; ``{}`` when
    nothing is to be sent."""
    level = request.reasoning
    if level is None or level == "none" or "thinking" in options:
        return {}
    mode = thinking_mode(model)
    if mode is None:
        problem = f"{model} cannot reason (no extended thinking), so reasoning={level!r}"
        if policy == "drop":
            logger.warning("%s is dropped (unsupported_params='drop')", problem)
            return {}
        raise _refuse(
            f"{problem} cannot be honoured. Fix: leave reasoning unset or 'none', use a "
            "Claude 3.7 or later model, or drop it with a warning (LLM_UNSUPPORTED_PARAMS=drop)",
            model,
        )
    if request.tool_choice not in (None, "auto", "none"):
        raise _refuse(
            f"Anthropic does not allow forcing a tool (tool_choice={request.tool_choice!r}) "
            "while thinking; use tool_choice='auto' or reasoning='none'",
            model,
        )
    if request.temperature is not None and request.temperature != 1:
        raise _refuse(
            f"Anthropic thinking needs the default temperature; temperature="
            f"{request.temperature} cannot be sent with reasoning={level!r}. Fix: leave "
            "temperature unset or use reasoning='none'",
            model,
        )
    if mode == "adaptive":
        return {"thinking": {"type": "adaptive"}, "output_config": {"effort": level}}
    budget = max(MIN_BUDGET, int(max_tokens * _SHARE[level]))
    if budget >= max_tokens:
        raise _refuse(
            f"reasoning={level!r} on Anthropic needs max_tokens above the thinking budget "
            f"(at least {MIN_BUDGET + 1}); max_tokens={max_tokens} leaves no room for it",
            model,
        )
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}
