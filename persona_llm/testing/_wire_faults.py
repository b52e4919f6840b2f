"""Damaged replies, built from the realistic ones: the faults a hostile suite sends.

Each takes a reply body or stream from the other builders and returns a copy with one thing
wrong, so a test says what is broken and nothing else differs from real traffic::

    emu.enqueue("openai", Reply(wire.without_field(wire.openai_chat("hi"), "choices.0.message")))
    emu.enqueue("anthropic", wire.without_events(wire.anthropic_events("hi"), "message_delta"))
    emu.enqueue("gemini", wire.with_comments(wire.gemini_events(["a", "b"])))
    emu.enqueue("openai", Reply(wire.html_page(), content_type="text/html"))

A body that trickles in (a byte at a time) is a field of the reply itself:
``Reply(body, trickle=0.1)`` or ``SSEReply(events, trickle=0.1)``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from persona_llm.testing._emulator_types import SSEReply

__all__ = ["html_page", "with_comments", "without_events", "without_field"]


def without_field(body: Any, path: str) -> Any:
    """A deep copy of `body` without the field at the dotted `path` (list items by index),
    e.g. ``"choices.0.message"`` or ``"content.0.text"``."""
    damaged = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = damaged
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        del node[int(last)]
    else:
        del node[last]
    return damaged


def without_events(reply: SSEReply, *types: str) -> SSEReply:
    """`reply` without its events of the given ``type`` (e.g. Anthropic's ``message_delta``).

    Events written as raw text are dropped when they name the type (``"type":"message_stop"``).
    """

    def kept(event: Any) -> bool:
        if isinstance(event, dict):
            return event.get("type") not in types
        return not any(f'"type":"{kind}"' in str(event) for kind in types)

    return dataclasses.replace(reply, events=[event for event in reply.events if kept(event)])


def with_comments(reply: SSEReply, comment: str = ": keep-alive") -> SSEReply:
    """`reply` with an SSE comment line before every event and after the last, as proxies
    and load balancers send to keep an idle stream open."""
    events: list[Any] = []
    for event in reply.events:
        events += [comment, event]
    events.append(comment)
    return dataclasses.replace(reply, events=events)


def html_page(title: str = "502 Bad Gateway") -> str:
    """A proxy's or gateway's HTML page, sent where the provider's JSON was expected."""
    return (
        "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head>\n"
        "<body><center><h1>" + title + "</h1></center><hr><center>nginx</center></body></html>\n"
    )
