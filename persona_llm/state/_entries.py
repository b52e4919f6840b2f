"""The response cache's entries: what `persona_llm.state.cache` writes, and reads back.

An entry is JSON, ``[FORMAT, version, expires, payload]``: the format of this module, the
library version that wrote it, its expiry (epoch seconds, or null) and the payload, a
vector or a chat reply. An entry of another format or version, or that does not parse, is
no entry (a miss, then overwritten).

A chat reply without tool calls, choices, ``parsed`` or provider data (the common reply)
is stored by position, its fields in `ChatResponse`'s order: ``[content, model, provider,
finish_reason, usage, refusal, reasoning]``, `usage` as the list of its counts. It is
read back without validation (a JSON array parses in half the time of the same object,
and `filled` builds the reply in a fraction of ``model_validate``'s), but every value's
type is checked first: one of another type makes the entry a miss, never a wrong reply.
Any other reply is stored as its ``model_dump`` and validated when read.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from persona_llm.messages import filled
from persona_llm.types import ChatResponse, FinishReason, Usage

__all__ = ["FORMAT", "POSITIONAL", "decode", "encode", "reply_payload", "to_reply"]

FORMAT = 4  # 4: [format, version, expires, payload], replies by position; 3: a JSON object
POSITIONAL = ("content", "model", "provider", "finish_reason", "usage", "refusal", "reasoning")
"""The fields of a reply stored by position; the others hold their defaults in it."""

_USAGE = tuple(Usage.model_fields)
_FINISH = (None, *get_args(FinishReason))
_INTEGERS = frozenset({int})
_SET = frozenset(ChatResponse.model_fields) - {"raw"}  # what model_validate of a dump sets


def encode(payload: Any, version: str, expires: float | None) -> bytes:
    """The bytes of an entry."""
    return json.dumps([FORMAT, version, expires, payload], separators=(",", ":")).encode()


def decode(raw: bytes, version: str) -> tuple[Any, float | None] | None:
    """The payload and expiry of an entry of this format and `version`, else None."""
    try:
        entry = json.loads(raw)
    except (ValueError, TypeError):  # not JSON, not UTF-8
        return None
    if type(entry) is not list or len(entry) != 4 or entry[0] != FORMAT or entry[1] != version:
        return None
    expires = entry[2]
    if expires is not None and type(expires) not in (int, float):
        return None
    return entry[3], expires


def reply_payload(response: ChatResponse) -> Any:
    """What an entry holds for `response` (without `raw`, `cached` and `cost_usd`)."""
    if response.tool_calls or response.choices or response.parsed is not None:
        return response.model_dump(mode="json", exclude={"raw", "cached"})
    if response.provider_data:
        return response.model_dump(mode="json", exclude={"raw", "cached"})
    usage = response.usage
    counts = None if usage is None else [getattr(usage, name) for name in _USAGE]
    return [
        response.content,
        response.model,
        response.provider,
        response.finish_reason,
        counts,
        response.refusal,
        response.reasoning,
    ]


def to_reply(payload: Any) -> ChatResponse | None:
    """The cached reply (``cached=True``, cost 0) an entry's payload holds, or None."""
    if type(payload) is list:
        return _positional(payload)
    if type(payload) is not dict:
        return None
    try:
        return ChatResponse.model_validate({**payload, "cached": True, "cost_usd": 0.0})
    except (ValueError, TypeError):
        return None


def _positional(values: list[Any]) -> ChatResponse | None:
    if len(values) != len(POSITIONAL):
        return None
    content, model, provider, finish_reason, counts, refusal, reasoning = values
    if not (
        type(content) is str
        and type(model) is str
        and type(provider) is str
        and finish_reason in _FINISH
        and (refusal is None or type(refusal) is str)
        and (reasoning is None or type(reasoning) is str)
    ):
        return None
    usage = None
    if counts is not None:
        if type(counts) is not list or len(counts) != len(_USAGE):
            return None
        if not set(map(type, counts)) <= _INTEGERS:  # no bool, no float, no str
            return None
        usage = filled(Usage, dict(zip(_USAGE, counts, strict=True)), set(_USAGE))
    fields = {
        "content": content,
        "model": model,
        "provider": provider,
        "finish_reason": finish_reason,
        "usage": usage,
        "refusal": refusal,
        "tool_calls": [],
        "parsed": None,
        "cost_usd": 0.0,
        "cached": True,
        "reasoning": reasoning,
        "choices": [],
        "provider_data": {},
        "raw": None,
    }
    return filled(ChatResponse, fields, set(_SET))
