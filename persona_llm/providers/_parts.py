"""Checks every provider applies to content parts before a request is built (pure, no I/O).

Each provider describes what it takes in a `PartRules`: the media types, which kinds may come
as a URL (the provider fetches it; this library never does), which kinds a ``tool`` message
may carry, and its size limits. `check_parts` refuses anything else with an
`InvalidRequestError` naming the provider, the part (as ``<image/png 48,213 bytes>``, never
its bytes) and what to do, before anything is sent. A part is never dropped and never turned
into text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from persona_llm.content import MediaPart
from persona_llm.errors import InvalidRequestError
from persona_llm.types import ChatMessage

__all__ = ["MB", "PartRules", "base64_size", "check_parts", "has_parts"]

MB = 1024 * 1024

_KIND_NAMES = {"image": "images", "document": "documents", "audio": "audio"}


def base64_size(size: int) -> int:
    """Length of the base64 text of `size` bytes."""
    return (size + 2) // 3 * 4


def has_parts(messages: Iterable[ChatMessage]) -> bool:
    """Whether any message has a parts list (not a plain str)."""
    return any(type(message.content) is not str for message in messages)


@dataclass(frozen=True)
class PartRules:
    """What one provider (and model) accepts.

    Attributes:
        provider: the provider's name, for messages.
        media_types: accepted media types; a kind with none of its types here is refused.
        url_kinds: kinds that may be given as an ``https://`` URL.
        tool_kinds: media kinds a ``tool`` message may carry.
        max_part_bytes: largest encoded (base64) size of one part, by kind.
        max_request_bytes: largest total encoded size of the parts of one request.
        why: why a kind is refused, by kind (shown in the error; default: not supported).
    """

    provider: str
    media_types: frozenset[str]
    url_kinds: frozenset[str] = frozenset()
    tool_kinds: frozenset[str] = frozenset()
    max_part_bytes: Mapping[str, int] = field(default_factory=dict)
    max_request_bytes: int | None = None
    why: Mapping[str, str] = field(default_factory=dict)


def check_parts(messages: Iterable[ChatMessage], rules: PartRules, model: str) -> None:
    """Refuse, before sending, any part `rules` do not allow.

    Raises:
        InvalidRequestError: naming the provider, the part and the fix.
    """
    total = 0
    for index, message in enumerate(messages):
        if type(message.content) is str:
            continue
        for part in message.content:
            if isinstance(part, MediaPart):
                _check_part(part, message.role, index, rules, model)
                total += base64_size(part.size)
    if rules.max_request_bytes is not None and total > rules.max_request_bytes:
        raise _error(
            f"the request's images, documents and audio add up to {total:,} bytes encoded, "
            f"over {rules.provider}'s limit of {rules.max_request_bytes:,} bytes per request; "
            "send fewer or smaller parts (split the work over several calls)",
            rules,
            model,
        )


def _check_part(part: MediaPart, role: str, index: int, rules: PartRules, model: str) -> None:
    where = f"messages[{index}] {part.label()}"
    if part.media_type not in rules.media_types and part.media_type is not None:
        reason = rules.why.get(part.kind) or f"{rules.provider} does not accept {part.media_type}"
        raise _error(
            f"{where}: {reason}. Fix: send this part to a provider or model that takes "
            f"{_KIND_NAMES[part.kind]} (check client.capabilities), or leave it out",
            rules,
            model,
        )
    if role == "tool" and part.kind not in rules.tool_kinds:
        raise _error(
            f"{where}: {rules.provider} does not accept {_KIND_NAMES[part.kind]} in tool "
            "results. Fix: return text from the tool and put the part in a user message",
            rules,
            model,
        )
    if part.url is not None and part.kind not in rules.url_kinds:
        raise _error(
            f"{where}: {rules.provider} does not fetch {part.kind} URLs and this library "
            f"never fetches URLs itself. Fix: download the file yourself and pass "
            f"{type(part).__name__}.from_bytes(...) or .from_path(...)",
            rules,
            model,
        )
    limit = rules.max_part_bytes.get(part.kind)
    if limit is not None and base64_size(part.size) > limit:
        raise _error(
            f"{where} is {base64_size(part.size):,} bytes encoded, over {rules.provider}'s "
            f"limit of {limit:,} bytes per {part.kind}; resize or split it",
            rules,
            model,
        )


def _error(message: str, rules: PartRules, model: str) -> InvalidRequestError:
    return InvalidRequestError(message, provider=rules.provider, model=model)
