"""The socket side of the provider emulator: a threading HTTP/1.1 server and its handler.

The handler turns bytes into a ``RecordedRequest``, asks the emulator for the reply
and writes it: JSON, chunked SSE flushed per event, or a fault (dropped
connections included). It keeps no state of its own.
"""

from __future__ import annotations

import logging
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from json import JSONDecodeError, loads
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from persona_llm.testing._emulator_defaults import Route, kind_of, match_route, not_found
from persona_llm.testing._emulator_types import (
    Fault,
    RecordedRequest,
    Reply,
    ReplyLike,
    SSEReply,
    encode_body,
)
from persona_llm.testing._wire_common import new_id

__all__ = ["Answer", "EmulatorServer"]

logger = logging.getLogger(__name__)

Answer = Callable[[RecordedRequest, Route], ReplyLike]

_MID_BODY_FILLER = b'{"error": {"message": "this body is cut short by the emulator"}}'


class EmulatorServer(ThreadingHTTPServer):
    """A loopback server on a free port that tracks its connections so it can close them."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler stuck in a reply callable
    allow_reuse_address = True
    # Dozens of SDK threads connect at once; with the default backlog of 5 the kernel
    # drops SYNs and clients stall for a second before retrying.
    request_queue_size = 128

    def __init__(self, answer: Answer) -> None:
        """Binds 127.0.0.1 on a free port; ``answer`` records a request and picks its reply."""
        self.answer = answer
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._loop_done = threading.Event()
        # serve_forever() only notices shutdown() at its next poll; a wake-up socket pair
        # lets stop() return at once, which adds up over hundreds of test fixtures.
        self._wake_reader, self._wake_writer = socket.socketpair()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def open_connections(self) -> int:
        """How many client connections are open now (idle keep-alive ones included)."""
        with self._connections_lock:
            return len(self._connections)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.socket.getsockname()[1])

    def server_bind(self) -> None:
        """Binds without HTTPServer's reverse DNS lookup, which can hang in sandboxes."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.port

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remembers the connection, then serves it on its own thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forgets the connection and closes it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Logs at debug level: clients hanging up mid-reply is routine in fault tests."""
        logger.debug("provider emulator: connection from %s failed", client_address, exc_info=True)

    def serve(self) -> None:
        """Accepts connections until ``stop()``; each one is served on its own thread.

        Run it on a thread before calling ``stop()``, which waits for this loop to end.
        """
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self.stopping.is_set():
                    for key, _ in selector.select():
                        if key.fileobj is self.socket and not self.stopping.is_set():
                            self._accept_one()
        finally:
            self._loop_done.set()

    def _accept_one(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:
            return  # the client gave up before accept(); nothing to serve
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def stop(self) -> None:
        """Stops accepting, wakes delayed replies and closes open (even idle) connections."""
        self.stopping.set()
        self._wake_writer.send(b"x")
        self._loop_done.wait(timeout=5)
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes threads blocked in recv()
        self.server_close()
        self._wake_reader.close()
        self._wake_writer.close()


def _provider_headers(provider: str | None) -> dict[str, str]:
    if provider in ("openai", "azure"):
        return {"x-request-id": new_id("req_", 32)}
    if provider == "anthropic":
        return {"request-id": new_id("req_011", 24)}
    return {}


def _merge(headers: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Returns ``headers`` updated by ``extra``, matching names case-insensitively."""
    lowered = {name.lower() for name in extra}
    merged = {name: value for name, value in headers.items() if name.lower() not in lowered}
    return merged | extra


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so SDK connection pools are exercised
    server_version = "provider-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # small SSE frames and replies must leave at once
    server: EmulatorServer

    def do_POST(self) -> None:
        """Serves any method; only POST routes exist, the rest get the 404."""
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Keeps test output clean: nothing is written to stderr."""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        body = self._read_body()
        route = match_route(self.command, path)
        if route is None:
            reply: ReplyLike = not_found(self.command, path)
            provider = None
        else:
            request = self._recorded(route, path, url.query, body)
            reply, provider = self.server.answer(request, route), route.provider
        try:
            if isinstance(reply, Fault):
                self._send_fault(reply)
            elif isinstance(reply, SSEReply):
                self._send_sse(reply, provider)
            else:
                self._send_reply(reply, provider)
        except OSError:  # the client went away mid-reply, or stop() closed the socket
            self.close_connection = True

    def _recorded(self, route: Route, path: str, query: str, body: bytes) -> RecordedRequest:
        try:
            parsed: Any = loads(body) if body else None
        except (JSONDecodeError, UnicodeDecodeError):
            parsed = None
        model = route.path_model
        if model is None and isinstance(parsed, dict) and isinstance(parsed.get("model"), str):
            model = parsed["model"]
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return RecordedRequest(
            provider=route.provider,
            method=self.command,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=body,
            json=parsed,
            kind=kind_of(route, parsed),
            model=model,
        )

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        return b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _wait(self, delay: float) -> bool:
        """Sleeps ``delay`` seconds; ``False`` (and the connection dropped) if stopped."""
        if delay > 0 and self.server.stopping.wait(delay):
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _start(self, status: int, headers: dict[str, str]) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Overloaded" if status == 529 else "Unknown"
        self.send_response(status, phrase)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_reply(self, reply: Reply, provider: str | None) -> None:
        if not self._wait(reply.delay):
            return
        body = encode_body(reply.body)
        headers = _provider_headers(provider)
        if reply.content_type is not None:
            headers["Content-Type"] = reply.content_type
        headers["Content-Length"] = str(len(body))
        self._start(reply.status, _merge(headers, reply.headers))
        self._write(body, reply.trickle, chunked=False)

    def _send_sse(self, reply: SSEReply, provider: str | None) -> None:
        headers = _provider_headers(provider) | {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
        }
        self._start(200, _merge(headers, reply.headers))
        for index, frame in enumerate(reply.frames()):
            if index == reply.drop_after:
                self._drop()
                return
            if not self._wait(reply.delay) or not self._write(frame, reply.trickle, chunked=True):
                return
        if reply.drop_after is not None:
            self._drop()  # asked to drop after at least every event: never finish the body
            return
        self.wfile.write(b"0\r\n\r\n")

    def _write(self, data: bytes, trickle: float, *, chunked: bool) -> bool:
        """Writes `data` at once, or a byte at a time `trickle` seconds apart; ``False`` if
        the emulator stopped meanwhile."""
        pieces = [data[i : i + 1] for i in range(len(data))] if trickle > 0 else [data]
        for index, piece in enumerate(pieces):
            if index and not self._wait(trickle):
                return False
            self.wfile.write(b"%X\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if trickle > 0:
                self.wfile.flush()
        return True

    def _send_fault(self, fault: Fault) -> None:
        if not self._wait(fault.delay):
            return
        if fault.drop_mode == "before":
            self._drop()
            return
        body = encode_body(fault.body)
        if fault.drop_mode == "mid_body":
            body = body or _MID_BODY_FILLER
        headers: dict[str, str] = {}
        if fault.effective_content_type is not None:
            headers["Content-Type"] = fault.effective_content_type
        headers["Content-Length"] = str(len(body))
        self._start(fault.status, _merge(headers, fault.headers))
        if fault.drop_mode == "mid_body":
            self.wfile.write(body[: len(body) // 2])
            self._drop()
            return
        self.wfile.write(body)
