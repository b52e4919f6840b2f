"""``reasoning=`` on Gemini: ``thinking_config`` by model generation, thoughts back (pure).

| level | Gemini 3.x (``thinking_level``) | Gemini 2.5 (``thinking_budget``) |
|---|---|---|
| ``none`` | ``minimal`` | ``0`` (2.5 Pro cannot stop thinking: ``128``) |
| ``low`` | ``low`` | ``1024`` |
| ``medium`` | ``medium`` | ``8192`` |
| ``high`` | ``high`` | ``24576`` |

Levels other than ``none`` also ask for thought summaries (``include_thoughts``), which come
back in `ChatResponse.reasoning`. Gemini 2.0 and 1.5 cannot think: a level other than
``none`` follows the ``unsupported_params`` policy (``none`` sends nothing). A caller's own
``thinking_config`` option wins.

A thought signature on a reply's text part (Gemini sends them when thinking) is kept in
`ChatResponse.provider_data` and sent back on the first text part of that model turn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.gemini.fields import get, signature_text

__all__ = ["reasoning_text", "text_signature", "thinking_config"]

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")
_BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576}
_LEVELS = {"none": "minimal", "low": "low", "medium": "medium", "high": "high"}


def _generation(model: str) -> tuple[int, int] | None:
    match = _VERSION.search(model.rsplit("/", 1)[-1].lower())
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def thinking_config(model: str, level: str | None, policy: str) -> dict[str, Any] | None:
    """The ``thinking_config`` for `level` on `model` (None: send nothing).

    Raises:
        InvalidRequestError: `model` cannot think and `level` asks it to (``error`` policy).
    """
    if level is None:
        return None
    generation = _generation(model)
    if generation is not None and generation < (2, 5):
        if level == "none":
            return None
        message = f"{model} cannot reason (no thinking), so reasoning={level!r} cannot be honoured"
        if policy == "drop":
            logger.warning("%s; dropped (unsupported_params='drop')", message)
            return None
        raise InvalidRequestError(
            f"{message}. Fix: leave reasoning unset, use Gemini 2.5 or later, or drop it "
            "with a warning (LLM_UNSUPPORTED_PARAMS=drop)",
            provider="gemini",
            model=model,
        )
    config: dict[str, Any] = {"include_thoughts": level != "none"}
    if generation is not None and generation < (3, 0):
        budget = _BUDGETS[level]
        config["thinking_budget"] = 128 if budget == 0 and "pro" in model else budget
    else:  # 3.x and names we do not know: the newest scheme
        config["thinking_level"] = _LEVELS[level]
    return config


def reasoning_text(parts: Sequence[Any]) -> str | None:
    """The thought summaries of a reply's parts, joined (None when there are none)."""
    texts = [
        text
        for part in parts
        if get(part, "thought", "thought") and (text := get(part, "text", "text"))
    ]
    return "".join(texts) if texts else None


def text_signature(parts: Sequence[Any]) -> dict[str, Any]:
    """``{"gemini": {"text_signature": ...}}`` when a text part carries a thought signature."""
    for part in parts:
        signature = get(part, "thought_signature", "thoughtSignature")
        if (
            signature
            and get(part, "text", "text")
            and not get(part, "thought", "thought")
            and (text := signature_text(signature))
        ):
            return {"gemini": {"text_signature": text}}
    return {}
