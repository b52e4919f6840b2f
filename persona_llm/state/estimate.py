"""Token estimates of calls before they are sent (what the rate limiter reserves).

* input tokens: the characters of every message text (and tool schema) divided by 4,
  plus 4 per message — about what OpenAI's tokenizers give for English text;
* output tokens: the call's ``max_tokens``, else 512 (`DEFAULT_OUTPUT_TOKENS`);
* embeddings: the texts' characters divided by 4, no output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from persona_llm.types import ChatRequest

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "Estimate",
    "Tokens",
    "chat_tokens",
    "estimate_chat",
    "estimate_texts",
]

DEFAULT_OUTPUT_TOKENS = 512


class Estimate(NamedTuple):
    """Tokens a call is expected to use, before it is sent (a NamedTuple: every limited
    call builds one)."""

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


#: ``(input tokens, output tokens)``: what the limiter reserves; an `Estimate` is one too
#: (the hot path builds the plain tuple, at a fifth of a NamedTuple's cost).
Tokens = tuple[int, int]


def chat_tokens(request: ChatRequest) -> Tokens:
    """The token estimate of a chat request, as a plain tuple (see the module docstring)."""
    # The fields read from the model's ``__dict__``: pydantic models define ``__getattr__``,
    # which makes each attribute read several times the cost of a dict lookup.
    fields = request.__dict__
    messages = fields["messages"]
    chars = 0
    for message in messages:
        content = message.content
        chars += len(content) if type(content) is str else _text_of(content)
    tools = fields["tools"]
    if tools:
        for tool in tools:
            chars += len(str(tool.parameters)) + len(tool.description or "")
    return -(-chars // 4) + 4 * len(messages), fields["max_tokens"] or DEFAULT_OUTPUT_TOKENS


def estimate_chat(request: ChatRequest) -> Estimate:
    """The token estimate of a chat request (see the module docstring)."""
    return Estimate(*chat_tokens(request))


def estimate_texts(texts: Sequence[str]) -> Estimate:
    """The token estimate of an embeddings call."""
    return Estimate(-(-sum(map(len, texts)) // 4), 0)
