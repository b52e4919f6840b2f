"""Token estimates of calls before they are sent (what the rate limiter reserves).

* input tokens: the characters of every message text (and tool schema) divided by 4,
  plus 4 per message — about what OpenAI's tokenizers give for English text;
* output tokens: the call's ``max_tokens``, else 512 (`DEFAULT_OUTPUT_TOKENS`);
* embeddings: the texts' characters divided by 4, no output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from persona_llm.types import ChatRequest

__all__ = ["DEFAULT_OUTPUT_TOKENS", "Estimate", "estimate_chat", "estimate_texts"]

DEFAULT_OUTPUT_TOKENS = 512


@dataclass(frozen=True)
class Estimate:
    """Tokens a call is expected to use, before it is sent."""

    input_tokens: int
    output_tokens: int

    @property
    def total(self) -> int:
        """Input plus output."""
        return self.input_tokens + self.output_tokens


def _text_of(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, (list, tuple)):
        return sum(_text_of(getattr(p, "text", None) or "") for p in content)
    return 0


def estimate_chat(request: ChatRequest) -> Estimate:
    """The token estimate of a chat request (see the module docstring)."""
    chars = sum(_text_of(m.content) for m in request.messages)
    chars += sum(len(str(tool.parameters)) + len(tool.description or "") for tool in request.tools)
    output = request.max_tokens or DEFAULT_OUTPUT_TOKENS
    return Estimate(math.ceil(chars / 4) + 4 * len(request.messages), output)


def estimate_texts(texts: Sequence[str]) -> Estimate:
    """The token estimate of an embeddings call."""
    return Estimate(math.ceil(sum(len(t) for t in texts) / 4), 0)
