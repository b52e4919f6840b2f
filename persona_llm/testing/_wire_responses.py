"""OpenAI Responses API reply bodies and event streams (see ``persona_llm.testing.wire``).

Shapes follow the API reference: a ``response`` object with typed ``output`` items
(``reasoning`` with ``summary`` and ``encrypted_content``, ``message`` with ``output_text`` /
``refusal`` parts, ``function_call``), and streams of named events (``event: <type>``) with
``sequence_number``s, ending with ``response.completed`` / ``response.incomplete`` /
``response.failed`` carrying the whole response. There is no ``[DONE]`` line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from persona_llm.testing._emulator_types import SSEReply
from persona_llm.testing._wire_common import JSONDict, fragments, new_id


def responses_usage(
    input_tokens: int = 10,
    output_tokens: int = 5,
    *,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
) -> JSONDict:
    """Returns a Responses ``usage`` object with both detail objects."""
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def reasoning_item(summary: str = "", encrypted_content: str | None = None) -> JSONDict:
    """Returns a ``reasoning`` output item (summary text optional, encrypted content opaque)."""
    item: JSONDict = {"id": new_id("rs_", 40), "type": "reasoning"}
    item["summary"] = [{"type": "summary_text", "text": summary}] if summary else []
    item["encrypted_content"] = encrypted_content or "gAAAAA" + new_id("", 32)
    return item


def _message_item(content: str | None, refusal: str | None) -> JSONDict:
    parts: list[JSONDict] = []
    if content is not None:
        parts.append({"type": "output_text", "annotations": [], "logprobs": [], "text": content})
    if refusal is not None:
        parts.append({"type": "refusal", "refusal": refusal})
    item = {"id": new_id("msg_", 40), "type": "message", "status": "completed"}
    return {**item, "content": parts, "role": "assistant"}


def _function_call_item(call: JSONDict) -> JSONDict:
    arguments = call.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call.get("item_id") or new_id("fc_", 40),
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": call.get("id") or new_id("call_"),
        "name": call["name"],
    }


def _output(
    content: str | None,
    refusal: str | None,
    tool_calls: Sequence[JSONDict],
    reasoning: Sequence[JSONDict],
) -> list[JSONDict]:
    output: list[JSONDict] = [dict(item) for item in reasoning]
    if content is not None or refusal is not None:
        output.append(_message_item(content, refusal))
    output += [_function_call_item(call) for call in tool_calls]
    return output


def openai_response(
    content: str | None = "Hello",
    *,
    model: str = "gpt-4o-mini",
    refusal: str | None = None,
    tool_calls: Sequence[JSONDict] = (),
    reasoning: Sequence[JSONDict] = (),
    status: str = "completed",
    incomplete_reason: str | None = None,
    error: JSONDict | None = None,
    usage: JSONDict | None = None,
    output: list[JSONDict] | None = None,
) -> JSONDict:
    """Returns a ``response`` object.

    ``tool_calls`` items are ``{id, name, arguments}`` (``id`` becomes the ``call_id``;
    arguments a str or a dict); ``reasoning`` items come from `reasoning_item` and are put
    first. ``output`` replaces the computed output items. ``status="incomplete"`` takes an
    ``incomplete_reason`` (``max_output_tokens``, ``content_filter``); ``"failed"`` an
    ``error`` (``{code, message}``).
    """
    items = output if output is not None else _output(content, refusal, tool_calls, reasoning)
    created = int(time.time())
    return {
        "id": new_id("resp_", 48),
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "completed_at": created if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": items,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if usage is not None else responses_usage(),
        "user": None,
        "metadata": {},
    }


class _Events:
    """Numbers the events of one stream."""

    def __init__(self) -> None:
        self.events: list[JSONDict] = []

    def add(self, kind: str, **fields: Any) -> None:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})


def _item_events(events: _Events, index: int, item: JSONDict, pieces: Sequence[str]) -> None:
    kind = item["type"]
    opening = dict(item)
    if kind == "reasoning":
        opening["summary"] = []
    elif kind == "message":
        opening["content"], opening["status"] = [], "in_progress"
    elif kind == "function_call":
        opening["arguments"], opening["status"] = "", "in_progress"
    events.add("response.output_item.added", output_index=index, item=opening)
    where = {"item_id": item["id"], "output_index": index}
    for summary_index, summary in enumerate(item.get("summary", []) if kind == "reasoning" else []):
        at = {**where, "summary_index": summary_index}
        events.add("response.reasoning_summary_part.added", **at, part={**summary, "text": ""})
        events.add("response.reasoning_summary_text.delta", **at, delta=summary["text"])
        events.add("response.reasoning_summary_text.done", **at, text=summary["text"])
        events.add("response.reasoning_summary_part.done", **at, part=summary)
    if kind == "function_call":
        for piece in fragments(item["arguments"]):
            events.add("response.function_call_arguments.delta", **where, delta=piece)
        events.add("response.function_call_arguments.done", **where, arguments=item["arguments"])
    for part_index, part in enumerate(item.get("content", []) if kind == "message" else []):
        at = {**where, "content_index": part_index}
        empty = {**part, "text": ""} if part["type"] == "output_text" else {**part, "refusal": ""}
        events.add("response.content_part.added", **at, part=empty)
        if part["type"] == "output_text":
            for piece in pieces or [part["text"]]:
                events.add("response.output_text.delta", **at, delta=piece, logprobs=[])
            events.add("response.output_text.done", **at, text=part["text"], logprobs=[])
        else:
            for piece in fragments(part["refusal"]):
                events.add("response.refusal.delta", **at, delta=piece)
            events.add("response.refusal.done", **at, refusal=part["refusal"])
        events.add("response.content_part.done", **at, part=part)
    events.add("response.output_item.done", output_index=index, item=item)


def openai_response_events(
    pieces: Sequence[str] = ("Hel", "lo"),
    *,
    error_after: int | None = None,
    error_event: JSONDict | None = None,
    **response: Any,
) -> SSEReply:
    """Returns a Responses event stream for the response `openai_response` would build.

    The text (``"".join(pieces)``) streams as ``response.output_text.delta`` events, function
    calls as argument fragments. ``error_after`` ends the stream with an ``error`` event
    (``{code, message}`` of `error`) after that many events.
    """
    response.setdefault("content", "".join(pieces) if pieces else None)
    final = openai_response(**response)
    in_progress = {**final, "status": "in_progress", "output": [], "completed_at": None}
    in_progress["usage"] = None
    events = _Events()
    events.add("response.created", response=in_progress)
    events.add("response.in_progress", response=in_progress)
    for index, item in enumerate(final["output"]):
        _item_events(events, index, item, pieces)
    terminal = {"completed": "response.completed", "incomplete": "response.incomplete"}
    events.add(terminal.get(final["status"], "response.failed"), response=final)
    frames = events.events
    if error_after is not None:
        failure = error_event or {"code": "server_error", "message": "The server had an error."}
        frames = frames[:error_after]
        frames.append({"type": "error", "sequence_number": error_after, "param": None, **failure})
    return SSEReply(list(frames), event_names=True)
