"""Value types of the provider emulator: recorded requests and scripted replies.

They live apart from the server so that ``wire`` (the body builders) and the
server can both use them without importing each other. Import them from
``persona_llm.testing.emulator``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from persona_llm.testing._received_parts import ReceivedPart, received_parts

__all__ = [
    "DropMode",
    "Fault",
    "QueueEntry",
    "RecordedRequest",
    "Reply",
    "ReplyLike",
    "SSEReply",
    "encode_body",
]

DropMode = Literal["before", "mid_body"]


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the emulator received it.

    Attributes:
        provider: ``"openai"``, ``"azure"``, ``"anthropic"`` or ``"gemini"``.
        method: HTTP method, e.g. ``"POST"``.
        path: URL path without the query string.
        query: Query parameters (last value wins for repeated names).
        headers: Request headers with lower-cased names.
        body: The raw request body.
        json: The parsed JSON body, or ``None`` when it is not JSON.
        kind: ``"chat"``, ``"stream"`` or ``"embeddings"``.
        model: The body's ``model``, the Azure deployment or the Gemini model in the path.
    """

    provider: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = field(repr=False)
    json: Any = field(repr=False)
    kind: str
    model: str | None

    @property
    def parts(self) -> list[ReceivedPart]:
        """The content parts of a chat request, decoded from the provider's wire format
        (images, documents and audio as bytes; ``[]`` when every content is a plain str)."""
        return received_parts(self.provider, self.json)


@dataclass(frozen=True)
class Reply:
    """A complete (non-streamed) HTTP reply.

    Attributes:
        body: A dict or list is JSON-encoded; ``bytes`` and ``str`` are sent verbatim.
        status: HTTP status code.
        headers: Extra response headers (they win over the emulator's defaults).
        delay: Seconds to wait before answering (to provoke client timeouts).
        content_type: The ``Content-Type`` header; ``None`` sends none at all (Azure's
            404 does that).
        trickle: Seconds between bytes: after the headers the body drips in one byte at a
            time (a reply that never stalls long enough for a read timeout).
    """

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str | None = "application/json"
    trickle: float = 0.0


@dataclass(frozen=True)
class SSEReply:
    """A ``text/event-stream`` reply sent with chunked transfer encoding, one flush per event.

    Attributes:
        events: Dicts are JSON-encoded into a ``data:`` line; a ``str`` is written verbatim
            (then the separator), so malformed or hand-made events are possible.
        separator: What ends each event (Gemini uses ``"\\r\\n\\r\\n"``).
        delay: Seconds to wait before each event (a slow stream).
        drop_after: Send this many events, then close the socket without finishing the
            chunked body (a connection dropped mid-stream).
        done: Append ``data: [DONE]`` (OpenAI and Azure).
        event_names: Prefix dict events with ``event: <their "type">`` (Anthropic).
        headers: Extra response headers.
        trickle: Seconds between bytes: each event drips in one byte (one chunk) at a time.
    """

    events: list[Any]
    separator: str = "\n\n"
    delay: float = 0.0
    drop_after: int | None = None
    done: bool = False
    event_names: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0

    def frames(self) -> list[bytes]:
        """Returns the encoded events in order, ``[DONE]`` included when asked for."""
        frames = [self._frame(event) for event in self.events]
        if self.done:
            frames.append(("data: [DONE]" + self.separator).encode())
        return frames

    def _frame(self, event: Any) -> bytes:
        if isinstance(event, str):
            return (event + self.separator).encode()
        text = "data: " + json.dumps(event, separators=(",", ":"))
        if self.event_names and isinstance(event, dict) and "type" in event:
            text = f"event: {event['type']}\n{text}"
        return (text + self.separator).encode()


@dataclass(frozen=True)
class Fault:
    """A failure: any status, body and headers, or a dropped connection.

    Attributes:
        status: HTTP status code.
        body: ``bytes``/``str`` are sent verbatim; a dict is JSON-encoded and, while
            ``content_type`` is the default ``"text/plain"``, labelled ``application/json``.
        content_type: The ``Content-Type`` header; ``None`` sends none.
        headers: Extra headers, e.g. ``{"Retry-After": "2"}``.
        delay: Seconds to wait first.
        drop_connection: ``True`` or ``"before"`` closes the socket without any response;
            ``"mid_body"`` sends the headers with a ``Content-Length`` larger than the part
            of the body that is sent, then closes.
    """

    status: int = 500
    body: bytes | str | dict[str, Any] = b""
    content_type: str | None = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_connection: bool | DropMode = False

    @property
    def drop_mode(self) -> DropMode | None:
        """Returns how the connection is dropped, or ``None`` for a normal reply."""
        if self.drop_connection is True:
            return "before"
        if self.drop_connection is False:
            return None
        return self.drop_connection

    @property
    def effective_content_type(self) -> str | None:
        """Returns the Content-Type to send (JSON for dict bodies under the default)."""
        if isinstance(self.body, dict) and self.content_type == "text/plain":
            return "application/json"
        return self.content_type


ReplyLike: TypeAlias = Reply | SSEReply | Fault
QueueEntry: TypeAlias = Reply | SSEReply | Fault | Callable[[RecordedRequest], ReplyLike | None]


def encode_body(body: Any) -> bytes:
    """Encodes a reply body: bytes as-is, str as UTF-8, anything else as JSON."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()
