"""Content parts and prompt-cache breakpoints in Anthropic's Messages format (pure).

* `TextPart` → ``{"type": "text", "text"}``;
* `ImagePart` → ``{"type": "image", "source": {"type": "base64", "media_type", "data"}}``
  or ``{"source": {"type": "url", "url"}}``;
* `DocumentPart` → ``{"type": "document", "source": ...}``: a PDF as base64 or URL, plain
  text as ``{"type": "text", "media_type": "text/plain", "data": <text>}``; ``title`` is
  sent when set;
* `AudioPart` is refused (Claude takes no audio).

``tool`` results may hold images and documents (inside the ``tool_result`` block). A part
with ``cache=True`` gets ``cache_control: {"type": "ephemeral"}``; ``cache_prompt=True``
marks the last system block and the last tool. The API allows at most
`MAX_CACHE_BREAKPOINTS`: `limit_breakpoints` keeps the last ones in prompt order (tools,
system, messages), removes the others and says so in a DEBUG log; too many marks are not an
error.

Limits checked before sending: 5 MB per image and 32 MB per request (base64 sizes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from persona_llm.content import DocumentPart, ImagePart, MediaPart, TextPart
from persona_llm.providers._parts import MB, PartRules

__all__ = [
    "CACHE_CONTROL",
    "MAX_CACHE_BREAKPOINTS",
    "PART_RULES",
    "limit_breakpoints",
    "mark_last",
    "to_anthropic_blocks",
]

logger = logging.getLogger(__name__)

MAX_CACHE_BREAKPOINTS = 4
CACHE_CONTROL = "cache_control"

PART_RULES = PartRules(
    provider="anthropic",
    media_types=frozenset(
        {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
    ),
    url_kinds=frozenset({"image", "document"}),
    tool_kinds=frozenset({"image", "document"}),
    max_part_bytes={"image": 5 * MB, "document": 32 * MB},
    max_request_bytes=32 * MB,
    why={"audio": "Claude does not take audio input"},
)


def _source(part: MediaPart) -> dict[str, Any]:
    if part.url is not None:
        return {"type": "url", "url": part.url}
    if part.media_type == "text/plain":
        text = (part.data or b"").decode("utf-8", errors="replace")
        return {"type": "text", "media_type": "text/plain", "data": text}
    return {"type": "base64", "media_type": part.media_type, "data": part.base64()}


def _block(part: Any) -> dict[str, Any]:
    if isinstance(part, TextPart):
        block: dict[str, Any] = {"type": "text", "text": part.text}
    elif isinstance(part, ImagePart):
        block = {"type": "image", "source": _source(part)}
    elif isinstance(part, DocumentPart):
        block = {"type": "document", "source": _source(part)}
        if part.title:
            block["title"] = part.title
    else:  # pragma: no cover - audio is refused by PART_RULES first
        raise TypeError(f"Anthropic cannot take {part!r}")
    if part.cache:
        block[CACHE_CONTROL] = {"type": "ephemeral"}
    return block


def to_anthropic_blocks(parts: Sequence[Any]) -> list[dict[str, Any]]:
    """The content blocks of a message with parts, in order (checked by `PART_RULES` first)."""
    return [_block(part) for part in parts]


def mark_last(blocks: list[dict[str, Any]]) -> None:
    """Put a cache breakpoint on the last block of `blocks` (a no-op when empty)."""
    if blocks:
        blocks[-1] = {**blocks[-1], CACHE_CONTROL: {"type": "ephemeral"}}


def _marked(params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every block carrying a breakpoint, in prompt order: tools, system, messages."""
    for index, tool in enumerate(params.get("tools") or []):
        if isinstance(tool, dict) and CACHE_CONTROL in tool:
            yield f"tools[{index}]", tool
    system = params.get("system")
    if isinstance(system, list):
        for index, block in enumerate(system):
            if CACHE_CONTROL in block:
                yield f"system[{index}]", block
    for number, message in enumerate(params.get("messages") or []):
        content = message.get("content")
        if isinstance(content, list):
            for index, block in enumerate(content):
                if isinstance(block, dict) and CACHE_CONTROL in block:
                    yield f"messages[{number}].content[{index}]", block
                elif isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    for position, nested in enumerate(inner if isinstance(inner, list) else []):
                        if CACHE_CONTROL in nested:
                            yield f"messages[{number}].content[{index}][{position}]", nested


def limit_breakpoints(params: dict[str, Any]) -> None:
    """Keep the last `MAX_CACHE_BREAKPOINTS` cache breakpoints of `params` (in place)."""
    marked = list(_marked(params))
    if len(marked) <= MAX_CACHE_BREAKPOINTS:
        return
    dropped = marked[: len(marked) - MAX_CACHE_BREAKPOINTS]
    for _, block in dropped:
        del block[CACHE_CONTROL]
    logger.debug(
        "Anthropic allows %d cache breakpoints; %d were marked, kept the last ones, dropped %s",
        MAX_CACHE_BREAKPOINTS,
        len(marked),
        ", ".join(where for where, _ in dropped),
    )
