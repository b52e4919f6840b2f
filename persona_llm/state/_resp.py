"""Redis replies read straight off a connection's socket, for `persona_llm.state._wire`.

redis-py's pure-Python parser reads a reply line by line through a buffer object (about
twenty Python calls for an ``MGET`` of one value, and as many again in the connection's
error handling around it). A call's store commands have replies of a few known shapes, so
the blocking wire reads them here instead: one ``recv_into`` into a buffer the connection
keeps, then slices. RESP2 and RESP3 both, since the connection may speak either:

* bulk strings (``$``), simple strings (``+``), integers (``:``), doubles (``,``),
  booleans (``#``), nulls (``_``, ``$-1``, ``*-1``) and arrays (``*``) of them;
* an error reply (``-``) raises the exception redis-py would (`parse_error`: the
  ``NOSCRIPT`` one included); inside an array it is the element, as with redis-py;
* a RESP3 push message (``>``: a managed Redis's maintenance notice, a tracking
  invalidation) may come before a reply on a RESP3 connection: it is read and skipped.

Anything else (a map, a verbatim string...) is not a reply these commands
get: it raises ``InvalidResponse`` and the caller drops the connection, so an unexpected
reply is a failed store operation (a cache miss, the guard's rule for a limit), never a
wrong value. A socket timeout raises redis-py's ``TimeoutError`` and any other socket
error or a closed connection its ``ConnectionError``, as its own parser does: the socket
keeps the timeout redis-py gave it (``LLM_STATE_TIMEOUT``), and TLS sockets read the same
way. Bytes of a later reply that arrive with this one stay in the buffer for the next read.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReplyReader"]

_INITIAL = 16384  # bytes: a cached reply or a script's answer fits in one read
_KEPT = 1 << 20  # a buffer grown past this for a large reply is not kept afterwards
_PUSHED = object()  # what `ReplyReader._value` returns for a push message
_PARTIAL = object()  # `_bulk_array`: not a wholly buffered array of bulk strings


class ReplyReader:
    """Reads whole replies from one connection's socket (not thread-safe: one per link).

    Args:
        errors: the ``redis.exceptions`` module.
        parse_error: redis-py's mapping of an error reply's text to its exception.
    """

    __slots__ = ("_buffer", "_end", "_errors", "_parse_error", "_start")

    def __init__(self, errors: Any, parse_error: Any) -> None:
        self._errors = errors
        self._parse_error = parse_error
        self._buffer = bytearray(_INITIAL)
        self._start = self._end = 0

    def clear(self) -> None:
        """Forget what is buffered (the connection was dropped)."""
        self._start = self._end = 0
        if len(self._buffer) > _KEPT:
            self._buffer = bytearray(_INITIAL)

    @property
    def buffered(self) -> bool:
        """Whether bytes of a reply not read yet are in the buffer."""
        return self._end > self._start

    def read(self, sock: Any) -> Any:
        """One reply from `sock` (an error reply raised)."""
        if self._start == self._end:  # nothing buffered: read into the buffer's start
            self._start = self._end = 0
            try:
                self._end = sock.recv_into(self._buffer)
            except OSError as exc:
                raise self._failure(exc) from None
            if not self._end:
                raise self._errors.ConnectionError("Connection closed by server.")
        reply = self._bulk_array()
        if reply is not _PARTIAL:
            return reply
        reply = self._value(sock)
        while reply is _PUSHED:  # a push message (RESP3) is not this reply: the next one is
            if self._start == self._end:
                self._start = self._end = 0
                self._fill(sock, 1)
            reply = self._value(sock)
        if isinstance(reply, Exception):  # an error reply (LOADING is a ConnectionError)
            raise reply
        if self._start == self._end and len(self._buffer) > _KEPT:
            self._buffer = bytearray(_INITIAL)
        return reply

    def _bulk_array(self) -> Any:
        """An integer (an admitted reserve's reply), an ``MGET`` reply (an array of bulk
        strings and nulls) or a refused reserve's (bulk strings and integers) that is wholly
        buffered, read in one pass; `_PARTIAL` (nothing consumed) for any other reply or a
        partial one. Without `_value`'s call per element and per line."""
        buffer, end = self._buffer, self._end
        position = self._start
        if buffer[position] != 42:  # b"*"
            if buffer[position] == 58:  # b":"
                found = buffer.find(b"\r\n", position, end)
                if found > 0:
                    self._start = found + 2
                    return int(buffer[position + 1 : found])
            return _PARTIAL
        found = buffer.find(b"\r\n", position, end)
        if found < 0:
            return _PARTIAL
        count = int(buffer[position + 1 : found])
        if count < 0:
            return _PARTIAL
        items: list[bytes | int | None] = []
        for _ in range(count):
            position = found + 2
            if position >= end:
                return _PARTIAL
            kind = buffer[position]
            found = buffer.find(b"\r\n", position, end)
            if found < 0 or kind not in (36, 95, 58):  # b"$", b"_", b":"
                return _PARTIAL
            if kind == 58:  # an integer: a reserve's answer has two
                items.append(int(buffer[position + 1 : found]))
                continue
            size = -1 if kind == 95 else int(buffer[position + 1 : found])
            if size < 0:
                items.append(None)
                continue
            if found + size + 4 > end:
                return _PARTIAL
            items.append(bytes(buffer[found + 2 : found + 2 + size]))
            found += size + 2
        self._start = found + 2
        return items

    def _fill(self, sock: Any, need: int) -> None:
        """Read until at least `need` bytes past the start are buffered."""
        errors = self._errors
        while self._end - self._start < need:
            buffer = self._buffer
            if self._start + need > len(buffer):
                if self._start:  # move what is left to the front first
                    buffer[: self._end - self._start] = buffer[self._start : self._end]
                    self._end -= self._start
                    self._start = 0
                if need > len(buffer):
                    buffer.extend(bytes(max(need, 2 * len(buffer)) - len(buffer)))
            try:
                with memoryview(buffer) as view:
                    count = sock.recv_into(view[self._end :])
            except OSError as exc:
                raise self._failure(exc) from None
            if not count:
                raise errors.ConnectionError("Connection closed by server.")
            self._end += count

    def _failure(self, exc: OSError) -> Exception:
        """redis-py's exception for a failed read, as its own parser raises it."""
        if isinstance(exc, (TimeoutError, BlockingIOError)):  # LLM_STATE_TIMEOUT: Python's
            # socket.timeout, or EAGAIN on a blocking socket past its SO_RCVTIMEO
            return self._errors.TimeoutError("Timeout reading from the Redis socket")  # type: ignore[no-any-return]
        message = f"Error while reading from the Redis socket: {exc}"
        return self._errors.ConnectionError(message)  # type: ignore[no-any-return]

    def _line(self, sock: Any) -> bytes:
        """The next line, without its CRLF."""
        found = self._buffer.find(b"\r\n", self._start, self._end)
        while found < 0:
            seen = self._end - self._start
            self._fill(sock, seen + 1)  # may move the buffered bytes to the front
            found = self._buffer.find(b"\r\n", self._start + max(seen - 1, 0), self._end)
        line = bytes(self._buffer[self._start : found])
        self._start = found + 2
        return line

    def _value(self, sock: Any) -> Any:
        line = self._line(sock)
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            self._fill(sock, size + 2)
            start = self._start
            value = bytes(self._buffer[start : start + size])
            self._start = start + size + 2
            return value
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._value(sock) for _ in range(count)]
        if kind == b">":  # read whole, then skipped by `read`
            for _ in range(int(rest)):
                self._value(sock)
            return _PUSHED
        return self._scalar(kind, rest)

    def _scalar(self, kind: bytes, rest: bytes) -> Any:
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"_":
            return None
        if kind == b"-":
            return self._parse_error(rest.decode("utf-8", errors="replace"))
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        raise self._errors.InvalidResponse(f"unexpected reply type {kind!r} from Redis")
