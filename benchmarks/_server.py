"""A fast loopback HTTP/1.1 server answering like the four providers, for the benchmarks.

The project's `ProviderEmulator` is built for tests (a thread per connection, every request
recorded, fault injection); here the server must stay out of the way: 512 concurrent
connections with 100 ms latency, and thousands of calls a second at zero latency. This is a
raw asyncio protocol with keep-alive, replies pre-encoded from `persona_llm.testing.wire`
(the real reply shapes), and a configurable latency. It runs in its own process
(``python -m benchmarks._server``) so its CPU time is not charged to the client under test.

Control routes (used by the harness, never by an SDK):

* ``POST /_bench/config`` ``{"latency": 0.1}`` sets the delay before each reply (seconds).
* ``GET /_bench/last?route=openai-chat`` returns the last request body seen on that route, so the
  harness can check that persona-llm and the raw SDK send the same request.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import sys
from base64 import b64encode
from typing import Any

from persona_llm.testing import wire

__all__ = ["serve"]

REPLY_TEXT = "Hello! How can I help you today?"
_OPENAI_DIMENSIONS = 1536  # text-embedding-3-small
_GEMINI_DIMENSIONS = 3072  # gemini-embedding-001

_state: dict[str, Any] = {"latency": 0.0, "last": {}}


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


_CHAT = {
    "openai": _json(wire.openai_chat(REPLY_TEXT)),
    "azure": _json(wire.openai_chat(REPLY_TEXT, azure=True)),
    "anthropic": _json(wire.anthropic_message(REPLY_TEXT, model="claude-sonnet-4-6")),
    "gemini": _json(wire.gemini_response(REPLY_TEXT)),
}

STREAM_PIECES = 200
"""Text pieces of a streamed chat reply (``"stream": true`` on a chat route)."""
_PIECES = [f"w{index} " for index in range(STREAM_PIECES)]
_USAGE = wire.openai_usage(12, STREAM_PIECES)
_CHAT_STREAM = {
    "openai": b"".join(wire.openai_chunks(_PIECES, usage=_USAGE).frames()),
    "azure": b"".join(wire.openai_chunks(_PIECES, usage=_USAGE, azure=True).frames()),
    "anthropic": b"".join(
        wire.anthropic_events(_PIECES, model="claude-sonnet-4-6", output_tokens=200).frames()
    ),
}

_RESPONSES = _json(wire.openai_response(REPLY_TEXT))
_RESPONSES_STREAM = b"".join(wire.openai_response_events(wire.split_pieces(REPLY_TEXT, 8)).frames())
_SSE = "text/event-stream"
_JSON = "application/json"

_VECTOR_CACHE: dict[tuple[str, int], str] = {}


def _vector(kind: str, dimensions: int) -> str:
    """One vector, pre-encoded: base64 float32 (OpenAI's transfer) or a JSON list."""
    key = (kind, dimensions)
    if key not in _VECTOR_CACHE:
        values = [((i * 7919) % 1000) / 1000.0 - 0.5 for i in range(dimensions)]
        if kind == "base64":
            _VECTOR_CACHE[key] = '"' + b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
            _VECTOR_CACHE[key] += '"'
        else:
            _VECTOR_CACHE[key] = json.dumps([round(v, 6) for v in values], separators=(",", ":"))
    return _VECTOR_CACHE[key]


def _openai_embeddings(request: dict[str, Any]) -> bytes:
    texts = request.get("input") or []
    count = len(texts) if isinstance(texts, list) else 1
    dimensions = int(request.get("dimensions") or _OPENAI_DIMENSIONS)
    kind = "base64" if request.get("encoding_format") == "base64" else "float"
    vector = _vector(kind, dimensions)
    items = ",".join(
        f'{{"object":"embedding","index":{i},"embedding":{vector}}}' for i in range(count)
    )
    usage = f'{{"prompt_tokens":{count},"total_tokens":{count}}}'
    model = json.dumps(request.get("model", "text-embedding-3-small"))
    return f'{{"object":"list","data":[{items}],"model":{model},"usage":{usage}}}'.encode()


def _find(value: Any, key: str) -> Any:
    """The first value of `key` anywhere in a parsed JSON body (None if absent)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def _gemini_embeddings(request: dict[str, Any], batch: bool) -> bytes:
    dimensions = int(_find(request, "outputDimensionality") or _GEMINI_DIMENSIONS)
    vector = _vector("float", dimensions)
    if not batch:
        return f'{{"embedding":{{"values":{vector}}}}}'.encode()
    count = len(request.get("requests") or [])
    items = ",".join(f'{{"values":{vector}}}' for _ in range(count))
    return f'{{"embeddings":[{items}]}}'.encode()


_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v1/chat/completions$"), "openai-chat"),
    (re.compile(r"^/v1/embeddings$"), "openai-embeddings"),
    (re.compile(r"^/v1/responses$"), "openai-responses"),
    (re.compile(r"^/openai/deployments/[^/]+/chat/completions$"), "azure-chat"),
    (re.compile(r"^/openai/deployments/[^/]+/embeddings$"), "azure-embeddings"),
    (re.compile(r"^/v1/messages$"), "anthropic-chat"),
    (re.compile(r"^/v1\w*/models/[^/:]+:generateContent$"), "gemini-chat"),
    (re.compile(r"^/v1\w*/models/[^/:]+:batchEmbedContents$"), "gemini-embeddings"),
    (re.compile(r"^/v1\w*/models/[^/:]+:embedContent$"), "gemini-embed-one"),
]


def _header_lines(headers: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


# What the providers send on every reply: OpenAI's six rate-limit headers, Azure's two,
# Anthropic's twelve (plenty left: they tighten nothing, a limited call reads them).
_RATE_HEADERS = {
    "openai": _header_lines(wire.openai_rate_headers()),
    "azure": _header_lines(
        {"x-ratelimit-remaining-requests": "499", "x-ratelimit-remaining-tokens": "199950"}
    ),
    "anthropic": _header_lines(wire.anthropic_rate_headers(reset_in=60)),
}


def _route(path: str) -> str | None:
    for pattern, name in _ROUTES:
        if pattern.match(path):
            return name
    return None


def _answer(method: str, target: str, body: bytes) -> tuple[int, bytes, str]:
    """(status, body, content type) for one request."""
    path, _, query = target.partition("?")
    if path == "/_bench/config":
        _state["latency"] = float(json.loads(body).get("latency", 0.0))
        return 200, b'{"ok":true}', _JSON
    if path == "/_bench/last":
        wanted = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("route", "")
        return 200, _json(_state["last"].get(wanted)), _JSON
    route = _route(path)
    if route is None:
        return 404, _json({"error": {"message": f"no route {method} {path}"}}), _JSON
    provider, _, kind = route.partition("-")
    _state["last"][route] = {"path": path, "body": body.decode()}
    if kind == "chat":
        if provider in _CHAT_STREAM and b'"stream":true' in body.replace(b" ", b""):
            return 200, _CHAT_STREAM[provider], _SSE
        return 200, _CHAT[provider], _JSON
    if kind == "responses":  # the whole SSE stream at once, as a fast server sends it
        streamed = json.loads(body).get("stream") is True
        return 200, *((_RESPONSES_STREAM, _SSE) if streamed else (_RESPONSES, _JSON))
    request = json.loads(body)
    if provider == "gemini":
        return 200, _gemini_embeddings(request, batch=kind == "embeddings"), _JSON
    return 200, _openai_embeddings(request), _JSON


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests as bytes arrive, answer each in order."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.closed = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := self._take_request()) is not None:
            method, target, body = request
            status, payload, content_type = _answer(method, target, body)
            provider = (_route(target.partition("?")[0]) or "").partition("-")[0]
            extra = _RATE_HEADERS.get(provider, "")
            reply = _head(status, len(payload), content_type, extra) + payload
            latency = _state["latency"]
            if latency > 0:
                asyncio.get_running_loop().call_later(latency, self._write, reply)
            else:
                self._write(reply)

    def _write(self, reply: bytes) -> None:
        if not self.closed:
            self.transport.write(reply)

    def _take_request(self) -> tuple[str, str, bytes] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._take_chunked(method, target, start)
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < start + length:
            return None
        body, self.buffer = self.buffer[start : start + length], self.buffer[start + length :]
        return method, target, body

    def _take_chunked(self, method: str, target: str, start: int) -> tuple[str, str, bytes] | None:
        parts: list[bytes] = []
        position = start
        while True:
            line_end = self.buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(self.buffer[position:line_end].split(b";")[0] or b"0", 16)
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n", line_end + 2)
                if trailer_end < 0:
                    return None
                self.buffer = self.buffer[trailer_end + 2 :]
                return method, target, b"".join(parts)
            if len(self.buffer) < line_end + 2 + size + 2:
                return None
            parts.append(self.buffer[line_end + 2 : line_end + 2 + size])
            position = line_end + 2 + size + 2


def _head(status: int, length: int, content_type: str = _JSON, extra: str = "") -> bytes:
    reason = "OK" if status == 200 else "Not Found"
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n"
        "x-request-id: req_bench\r\n"
        "request-id: req_bench\r\n"
        f"{extra}"
        "\r\n"
    ).encode()


async def serve(port: int = 0) -> None:
    """Listen on 127.0.0.1, print the port on stdout, serve until stdin closes."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", port, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    # The harness ends us by closing our stdin (or by killing this process by its pid).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
