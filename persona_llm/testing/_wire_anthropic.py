"""Anthropic Messages reply bodies and streams (see ``persona_llm.testing.wire``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from persona_llm.testing._emulator_types import SSEReply
from persona_llm.testing._wire_common import JSONDict, fragments, new_id, split_pieces


def _anthropic_usage(
    input_tokens: int, output_tokens: int, cache_creation: int = 0, cache_read: int = 0
) -> JSONDict:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def anthropic_message(
    text: str | Sequence[JSONDict] = "Hello",
    *,
    model: str = "claude-sonnet-4-5",
    stop_reason: str = "end_turn",
    stop_sequence: str | None = None,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> JSONDict:
    """Returns a Messages API reply; a list ``text`` is the content blocks verbatim."""
    content = [{"type": "text", "text": text}] if isinstance(text, str) else list(text)
    usage = _anthropic_usage(
        input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens
    )
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def _anthropic_blocks(blocks_or_text: str | Sequence[Any]) -> list[tuple[JSONDict, list[Any]]]:
    """Returns (content_block_start payload, deltas) per block."""
    items: Sequence[Any] = blocks_or_text
    if isinstance(blocks_or_text, str):
        items = split_pieces(blocks_or_text)
    if items and all(isinstance(item, str) for item in items):
        deltas = [{"type": "text_delta", "text": piece} for piece in items]
        return [({"type": "text", "text": ""}, deltas)]
    return [_anthropic_block(block) for block in items]


def _anthropic_block(block: JSONDict) -> tuple[JSONDict, list[Any]]:
    kind = block.get("type")
    if kind == "text":
        pieces = split_pieces(block["text"])
        return {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces]
    if kind == "thinking":
        deltas: list[Any] = [
            {"type": "thinking_delta", "thinking": p} for p in split_pieces(block["thinking"])
        ]
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "sig")})
        return {"type": "thinking", "thinking": "", "signature": ""}, deltas
    if kind == "tool_use":
        arguments = block.get("input") or {}
        # A tool without arguments still streams one input_json_delta, with "".
        pieces = fragments(json.dumps(arguments)) if arguments else [""]
        call_id = block.get("id") or new_id("toolu_01")
        start = {"type": "tool_use", "id": call_id, "name": block["name"], "input": {}}
        return start, [{"type": "input_json_delta", "partial_json": f} for f in pieces]
    return dict(block), []  # redacted_thinking and unknown blocks arrive whole


def anthropic_events(
    blocks_or_text: str | Sequence[Any] = "Hello",
    *,
    model: str = "claude-sonnet-4-5",
    stop_reason: str = "end_turn",
    input_tokens: int = 10,
    output_tokens: int = 5,
    ping: bool = True,
    error: JSONDict | None = None,
) -> SSEReply:
    """Returns the full Messages stream with ``event:`` lines.

    ``blocks_or_text``: a str (one text block, split into a few deltas), a list of str
    (one text block, one delta each) or content blocks (``text``, ``thinking`` with
    ``signature``, ``tool_use`` with ``input``, ``redacted_thinking``). ``error`` (the
    inner ``{type, message}`` or a whole error body) replaces everything after the first
    delta. The ``message_stop`` line carries trailing spaces, as real streams do.
    """
    message = anthropic_message([], model=model, input_tokens=input_tokens, output_tokens=1)
    message.update(stop_reason=None, stop_sequence=None)
    events: list[Any] = [{"type": "message_start", "message": message}]
    for index, (start, deltas) in enumerate(_anthropic_blocks(blocks_or_text)):
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        if ping and index == 0:
            events.append({"type": "ping"})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    events.append(
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": output_tokens}}
    )
    events.append('event: message_stop\ndata: {"type":"message_stop"}   ')
    if error is not None:
        cut = next((i for i, e in enumerate(events) if _is_delta(e)), 0) + 1
        body = error if error.get("type") == "error" else {"type": "error", "error": error}
        events = [*events[:cut], body]
    return SSEReply(events, event_names=True)


def _is_delta(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == "content_block_delta"


def anthropic_error(type: str, message: str) -> JSONDict:
    """Returns an Anthropic error body, e.g. ``anthropic_error("overloaded_error", ...)``."""
    error = {"type": type, "message": message}
    return {"type": "error", "error": error, "request_id": new_id("req_011")}
