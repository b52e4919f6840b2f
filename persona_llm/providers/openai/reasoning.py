"""``reasoning=`` on OpenAI and Azure: ``reasoning_effort`` (pure).

* reasoning models (o-series, gpt-5 family): ``low`` / ``medium`` / ``high`` are sent as
  ``reasoning_effort``; ``none`` is ``"none"`` on gpt-5.1 and later, ``"minimal"`` on gpt-5,
  and cannot be honoured on the o-series (they always reason);
* other models (gpt-4o, gpt-4.1, OpenAI-compatible servers' models not named like OpenAI's
  reasoning models): ``none`` sends nothing, other levels cannot be honoured.

A level that cannot be honoured follows the ``unsupported_params`` policy: ``error`` raises
`InvalidRequestError` before sending, ``drop`` leaves it out with a WARNING. A caller's own
``reasoning_effort`` option wins over the level.

Reasoning text comes back only from OpenAI-compatible servers that return it
(``message.reasoning_content`` or ``message.reasoning``: DeepSeek, vLLM, OpenRouter...);
OpenAI's Chat Completions returns none (its summaries need the Responses API).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.providers._raw import field

__all__ = ["reasoning_effort", "reasoning_of"]

logger = logging.getLogger(__name__)

_GPT5 = re.compile(r"gpt-5(?:\.(\d+))?(.*)")
_O_SERIES = re.compile(r"o\d+(?:-.*)?")


def _name(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower()


def _none_effort(model: str) -> str | None:
    """What ``none`` is sent as on a reasoning model; None when it cannot be turned off."""
    match = _GPT5.fullmatch(_name(model))
    if match is None:
        return None  # o-series: always reasons
    if match.group(2).startswith("-pro"):
        return None
    return "none" if match.group(1) not in (None, "0") else "minimal"


def reasoning_effort(
    model: str, level: str | None, *, reasoning_model: bool, policy: str, provider: str
) -> str | None:
    """The ``reasoning_effort`` to send for `level` (None: send nothing).

    Raises:
        InvalidRequestError: the model cannot honour `level`, under the ``error`` policy.
    """
    if level is None:
        return None
    if not reasoning_model:
        if level == "none":
            return None
        _unsupported(f"{model!r} is not a reasoning model", level, policy, provider, model)
        return None
    if level != "none":
        return level
    effort = _none_effort(model)
    if effort is None:
        _unsupported(f"{model!r} always reasons", level, policy, provider, model)
        return None
    return effort


def _unsupported(problem: str, level: str, policy: str, provider: str, model: str) -> None:
    message = f"{problem}; reasoning={level!r} cannot be honoured"
    if policy == "drop":
        logger.warning("%s and is dropped (unsupported_params='drop')", message)
        return
    raise InvalidRequestError(
        f"{message}. Fix: leave reasoning unset, pick a model that supports it, or drop it "
        "with a warning (LLM_UNSUPPORTED_PARAMS=drop)",
        provider=provider,
        model=model,
    )


def reasoning_of(message: Any) -> str | None:
    """The reasoning text an OpenAI-compatible server put on a message or delta (JSON data),
    if any."""
    for name in ("reasoning_content", "reasoning"):
        value = field(message, name)
        if isinstance(value, str) and value:
            return value
    return None
