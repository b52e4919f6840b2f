"""SSE comment lines removed below google-genai, which reads them as JSON and fails.

A line that starts with ``:`` is a comment in Server-Sent Events (``: keep-alive``, sent by
proxies and load balancers to keep an idle stream open); readers must ignore it. google-genai
(3.x) passes every line that is not ``data: ...`` to its JSON error buffer, so one comment
line fails the whole stream. The httpx2 response hooks here wrap the body of each
``text/event-stream`` reply so that the SDK never sees comment lines; every other byte
reaches it unchanged. Replies of any other type are left alone (one header look-up).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

import httpx2

__all__ = ["drop_comment_lines", "drop_sse_comments", "drop_sse_comments_async"]

_LINE_ENDS = (b"\n", b"\r")


def _is_event_stream(response: httpx2.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def drop_sse_comments(response: httpx2.Response) -> None:
    """Blocking httpx2 response hook: filter comment lines out of an event stream's body."""
    if _is_event_stream(response) and isinstance(response.stream, httpx2.SyncByteStream):
        response.stream = _CommentFreeStream(response.stream)


async def drop_sse_comments_async(response: httpx2.Response) -> None:
    """Asyncio twin of `drop_sse_comments`."""
    if _is_event_stream(response) and isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = _AsyncCommentFreeStream(response.stream)


class _LineFilter:
    """Keeps the unfinished last line of a chunk until its end arrives."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.pending + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        self.pending = data[cut:]
        return drop_comment_lines(data[:cut])

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return b"" if rest.startswith(b":") else rest


def drop_comment_lines(data: bytes) -> bytes:
    """`data` (whole lines) without the lines that start with ``:``, terminators included."""
    if not data.startswith(b":") and b"\n:" not in data and b"\r:" not in data:
        return data  # the common case: no comment line, no copy
    return b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b":"))


class _CommentFreeStream(httpx2.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        lines = _LineFilter()
        for chunk in self._inner:
            if kept := lines.feed(chunk):
                yield kept
        if rest := lines.flush():
            yield rest

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _AsyncCommentFreeStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        lines = _LineFilter()
        async for chunk in self._inner:
            if kept := lines.feed(chunk):
                yield kept
        if rest := lines.flush():
            yield rest

    async def aclose(self) -> None:
        await self._inner.aclose()
