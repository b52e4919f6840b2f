"""Replies read from the HTTP body, without building the SDKs' response models.

The OpenAI, Azure and Anthropic adapters call the SDKs' raw-response API
(``with_raw_response`` / ``with_streaming_response``): the SDK still sends the request, signs
it, applies the timeouts and turns an error status into its exception, but hands back the
HTTP response instead of a pydantic model built field by field (most of an SDK call's own CPU).
These helpers read that body as the SDKs would, into plain JSON data for the dict mappers:

* `json_body`: the parsed JSON of a reply (the text when a reply not labelled JSON is not
  JSON; a body labelled JSON that does not parse raises `json.JSONDecodeError`), exactly the
  SDKs' rule;
* `SSELines`: Server-Sent Events from the lines of a stream (the WHATWG rules the SDKs use:
  ``event:``/``data:`` fields, comments ignored, an event ends at a blank line);
* `wire_body`: the same plain data from an SDK model (for callers that still pass one);
* `RawReply`: what `ChatResponse.raw` holds on the raw path;
* `note` / `collecting`: the replies' headers, kept for the rate limiter only while a limited
  call collects them (a context variable); otherwise `note` is one context variable read.
  What they say is read by `persona_llm.providers._rate_limits`, which only the rate
  limiter imports.
"""

from __future__ import annotations

import json
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "HEADER_SINK",
    "HeaderSink",
    "RawReply",
    "SSELines",
    "collecting",
    "field",
    "headers_wanted",
    "json_body",
    "note",
    "request_parts",
    "wire_body",
]


class HeaderSink:
    """Where `note` puts the replies' headers: `replies` is a list while a limited call
    collects them, else None. A call's `persona_llm.state.notes.CallNotes` is one (the
    context variable the usage wrapper sets for every call anyway), so a limited call
    inside it collects without setting a context variable of its own."""

    replies: list[Any] | None = None


_SINK: ContextVar[HeaderSink | None] = ContextVar("persona_llm_call_sink", default=None)
#: The context variable `note` reads (the state notes share it: see `HeaderSink`).
HEADER_SINK = _SINK


def note(headers: Any) -> None:
    """Keep a reply's headers for the limited call collecting them (no-op otherwise)."""
    sink = _SINK.get()
    if sink is not None:
        replies = sink.replies
        if replies is not None:
            replies.append(headers)


def headers_wanted() -> bool:
    """Whether a limited call is collecting the replies' headers (for adapters whose usual
    path does not see them, so they take the path that does only when asked)."""
    sink = _SINK.get()
    return sink is not None and sink.replies is not None


class collecting:  # used as a function: ``with collecting() as replies``
    """The headers `note` receives inside the block (of this thread or task): kept in the
    sink already set in this context (the call's notes), else in one set for the block."""

    __slots__ = ("_previous", "_sink", "_token")

    def __enter__(self) -> list[Any]:
        replies: list[Any] = []
        sink = _SINK.get()
        if sink is None:
            sink = HeaderSink()
            self._token: Token[HeaderSink | None] | None = _SINK.set(sink)
        else:
            self._token = None
        self._sink, self._previous = sink, sink.replies
        sink.replies = replies
        return replies

    def __exit__(self, *exc: object) -> None:
        self._sink.replies = self._previous
        if self._token is not None:
            _SINK.reset(self._token)


# The SDK methods' own keywords that are request options, not body fields, under the names
# the SDKs' ``client.post(..., options=...)`` takes (what their make_request_options builds).
_REQUEST_OPTIONS = {
    "extra_headers": "headers",
    "extra_query": "params",
    "extra_body": "extra_json",
    "timeout": "timeout",
}


def request_parts(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The JSON body and the ``client.post`` options of ``create``-style keyword arguments."""
    body = dict(params)
    options: dict[str, Any] = {}
    for name, key in _REQUEST_OPTIONS.items():
        if name in body:
            value = body.pop(name)
            if value is not None or name == "timeout":  # timeout=None: no timeout
                options[key] = value
    return body, options


def json_body(response: Any) -> Any:
    """The body of an ``httpx2.Response`` as the SDKs parse it for a model type.

    Raises:
        json.JSONDecodeError: the reply says it is JSON and is not (a ``ValueError``).
    """
    content = response.content
    content_type = response.headers.get("content-type", "*").split(";", 1)[0]
    if content_type.lower().endswith("json"):
        return json.loads(content)
    try:  # the SDKs try JSON whatever the label, and hand back the text when it is not
        return json.loads(content)
    except ValueError:
        return response.text


def wire_body(reply: Any) -> Any:
    """Plain JSON data of a reply: dicts as they are, an SDK model as the API sent it.

    The SDKs' models dump only the fields the body had (``to_dict`` leaves unset fields out),
    so a field sent as ``null`` and a field not sent stay different. Anything else (a string
    the SDK handed back for a non-JSON body, a number) is returned unchanged.
    """
    if isinstance(reply, dict):
        return reply
    to_dict = getattr(type(reply), "to_dict", None)
    return reply.to_dict() if callable(to_dict) else reply


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` of a JSON object, None when absent or when `obj` is not an object."""
    return obj.get(name) if isinstance(obj, dict) else None


class RawReply(dict[str, Any]):
    """The reply's JSON body (a dict), kept as `ChatResponse.raw` on the raw-response path.

    Read it as the dict it is (``reply.raw["usage"]``), free. Reading an attribute
    (``reply.raw.choices[0].message``, ``reply.raw.model_dump()``) builds the SDK's own
    model once, as the SDK would have (tens of microseconds for a short reply), and reads it.
    """

    __slots__ = ("_model", "_model_type")

    def __init__(self, body: dict[str, Any], model_type: Any) -> None:
        super().__init__(body)
        self._model_type = model_type
        self._model: Any = None

    def sdk_model(self) -> Any:
        """The SDK's model of this body, built on first use (without validation, as the SDK)."""
        if self._model is None:
            self._model = self._model_type.construct(**self)
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.sdk_model(), name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self), self._model_type))


class SSELines:
    """Server-Sent Events, one line at a time: `feed` returns ``(event, data)`` when a blank
    line ends an event, else None. A last event without its blank line is dropped, as the
    SDKs drop it."""

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str | None, str] | None:
        """The event this line completes, if any."""
        if not line:
            if self._event is None and not self._data:
                return None
            event, data = self._event, "\n".join(self._data)
            self._event, self._data = None, []
            return event, data
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        return None
