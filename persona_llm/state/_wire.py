"""The store commands on a call's path, without redis-py's per-command work.

A limited call has two store operations: the reserve before it (its answer decides whether
the call goes) and the settle after it (corrections and lease releases, whose answer
nobody needs); a cached call reads its entry (``MGET``). They run over connections of
their own (`Wire` / `AsyncWire`):

* the command's bytes are packed in one pass by `persona_llm.state._packing` (no Script
  object, no per-argument encoder dispatch; a reserve is sent as ``EVALSHA``, and as
  ``EVAL`` once when Redis says ``NOSCRIPT`` after a restart); a store may pack the
  arguments itself (`call_packed`), keeping the parts that never change between calls;
* the blocking wire writes to the connection's socket and reads each reply with
  `persona_llm.state._resp.ReplyReader` (one ``recv_into``, then slices), not redis-py's
  parser; redis-py still connects (handshake, TLS, password) and the asyncio wire uses it
  whole;
* a settle is **fired**: written to the socket and not waited for. Redis runs it as soon as
  it reads it; its reply is read the next time that connection is used, before that
  command's own reply (Redis answers a connection's commands in order). A settle thus
  costs the call a write, not a round trip, and nothing waits in the process (nothing to
  flush at exit). A settle is sent as ``EVAL`` (the script's text), so it never depends on
  the script cache.

A failure of a fired settle is seen late (when its reply is read): it goes to the `late`
callback, which counts and logs it like any store failure. The connections are the wire's
own, not the client pool's, whose other users would read a reply that is not theirs; they
are made with the client's settings (timeouts, TLS, password) and dropped after a
``fork()`` (the parent's sockets are left to the parent).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from persona_llm.state._packing import Scripts, pack, script_args
from persona_llm.state._resp import ReplyReader

__all__ = ["AsyncWire", "Wire"]

MAX_UNREAD = 32  # replies of fired settles a connection may hold before they are read
# SO_RCVTIMEO/SO_SNDTIMEO take a struct timeval of two longs here; Windows reads a DWORD of
# milliseconds (the same bytes would mean no timeout at all), so elsewhere Python keeps the
# timeout (a poll() before each read)
_KERNEL_TIMEOUTS = sys.platform == "linux"


class _Link:
    """One connection, how many fired commands' replies it has not read yet, and (blocking
    wire) the reader of its replies and the socket it made blocking (`Wire._arm`)."""

    __slots__ = ("armed", "conn", "reader", "unread")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.unread = 0
        self.reader: ReplyReader | None = None
        self.armed: Any = None


Late = Callable[[BaseException], None]

# Every wire of the process, told after a fork() (one callback for all, registered once;
# cheaper than asking os.getpid(), a system call, on every command).
_WIRES: weakref.WeakSet[_Base] = weakref.WeakSet()


def _after_fork() -> None:
    for wire in list(_WIRES):
        wire._forked()


os.register_at_fork(after_in_child=_after_fork)


class _Base:
    """What both twins share: the scripts, the free connections, the fork check."""

    def __init__(self, client: Any, scripts: Mapping[str, str], errors: Any, late: Late) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._scripts = Scripts(scripts)
        self._errors = errors  # redis.exceptions
        self._late = late
        self._free: list[_Link] = []
        _WIRES.add(self)

    def _new(self) -> _Link:
        return _Link(self._connection_class(**self._connection_kwargs))

    def _forked(self) -> None:
        """In a child after ``fork()``: the parent's connections are the parent's."""
        self._free = []

    def _pop(self) -> _Link | None:
        try:
            return self._free.pop()  # a list's pop and append are atomic: no lock
        except IndexError:
            return None

    def _push(self, link: _Link) -> None:
        self._free.append(link)


class AsyncWire(_Base):
    """The reserve and settle scripts over connections of one event loop.

    Args:
        client: the redis-py client whose settings the connections take.
        scripts: name -> Lua source.
        errors: the ``redis.exceptions`` module.
        late: called with the failure of a fired command, when its reply is read.
    """

    async def _readable(self, link: _Link) -> bool:
        conn = link.conn
        # The stream sees Redis's close only once the loop has run the socket's read
        # callback: give the loop two turns (one was enough on asyncio's own loop; a test
        # restarts Redis under an idle connection and checks that the settle arrives).
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        peek = getattr(conn, "can_read", None) or conn.can_read_destructive  # renamed in 8.0
        return bool(await peek())

    @staticmethod
    async def _send(link: _Link, command: bytes) -> None:
        await link.conn.send_packed_command([command], check_health=False)

    @staticmethod
    async def _read(link: _Link) -> Any:
        return await link.conn.read_response()

    # unasync: source wire
    async def _read_unread(self, link: _Link) -> None:
        while link.unread:
            link.unread -= 1
            try:
                await self._read(link)
            except self._errors.ResponseError as error:  # in band: the connection is fine
                self._late(error)

    async def _drop(self, link: _Link, error: BaseException) -> None:
        lost, link.unread, link.reader = link.unread, 0, None
        await link.conn.disconnect()
        if lost:
            self._late(error)

    async def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script `name` and return its reply (one round trip)."""
        return await self.call_packed(name, *script_args(keys, args))

    async def call_packed(self, name: str, count: int, packed: bytes) -> Any:
        """`call` with the arguments packed already (`script_args`, or a store's own)."""
        scripts = self._scripts  # `Scripts.evalsha`, inline: a reserve's every call counts
        command = b"*%d\r\n%b%b" % (count + 2, scripts.evalsha_heads[name], packed)
        return await self._exchange(command, lambda: scripts.eval(name, count, packed))

    async def command(self, *args: Any) -> Any:
        """Send one command (``MGET``...) and return its reply (one round trip)."""
        return await self._exchange(pack(*args), None)

    async def command_packed(self, command: bytes) -> Any:
        """`command` with the command packed already (`pack`, or a store's own)."""
        return await self._exchange(command, None)

    async def _exchange(self, command: bytes, again: Callable[[], bytes] | None) -> Any:
        """Send `command`, read what earlier fires left unread, then its reply; `again`
        makes the command to send instead when Redis lost the script (``NOSCRIPT``)."""
        try:
            link = reused = self._free.pop()  # `_pop`, inline
        except IndexError:
            link, reused = self._new(), None
        while True:
            try:
                await self._send(link, command)
                if link.unread:
                    await self._read_unread(link)
                reply = await self._read(link)
            except self._errors.ResponseError as error:  # in band: the connection is fine
                if isinstance(error, self._errors.NoScriptError) and again is not None:
                    command, again = again(), None
                    continue
                self._free.append(link)
                raise
            except BaseException as error:
                await self._drop(link, error)
                if reused is None or not isinstance(error, self._errors.ConnectionError):
                    raise
                reused, link = None, self._new()  # a pooled connection Redis had closed
                continue
            self._free.append(link)
            return reply

    async def fire(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Send script `name` without waiting for its reply (read on the next use)."""
        command = self._scripts.eval(name, *script_args(keys, args))
        link = self._pop()
        if link is not None and not link.unread and await self._stale(link):
            link = None
        link = link or self._new()
        try:
            await self._send(link, command)
            link.unread += 1
            if link.unread >= MAX_UNREAD:
                await self._read_unread(link)
        except BaseException as error:
            await self._drop(link, error)
            raise
        self._push(link)

    async def _stale(self, link: _Link) -> bool:
        """Whether an idle connection was closed by Redis (a write to it would be lost)."""
        try:
            if not await self._readable(link):
                return False
        except (self._errors.RedisError, OSError):
            pass
        await link.conn.disconnect()
        return True

    async def close(self) -> None:
        """Read what is unread (failures reported) and close the connections."""
        links, self._free = self._free, []
        for link in links:
            try:
                await self._read_unread(link)
            except (self._errors.RedisError, OSError) as error:
                self._late(error)
            await link.conn.disconnect()

    # unasync: end


class Wire(_Base):
    """Blocking twin of `AsyncWire` (one per process, its connections shared by threads)."""

    def _readable(self, link: _Link) -> bool:
        link.armed = None  # redis-py's peek sets the socket's timeout back: `_arm` again
        return bool(link.conn.can_read(timeout=0))

    @staticmethod
    def _arm(link: _Link, sock: socket.socket) -> None:
        """Make a plain socket blocking, its timeout (``LLM_STATE_TIMEOUT``, redis-py's
        ``socket_timeout``) the kernel's ``SO_RCVTIMEO``/``SO_SNDTIMEO``: each read is then
        one ``recvfrom``, without the ``poll()`` Python makes before it on a socket with a
        timeout of its own. A wait past the timeout fails with ``EAGAIN``
        (``BlockingIOError``), which the wire and the reader raise as redis-py's
        ``TimeoutError``, as before."""
        timeout = sock.gettimeout()
        if timeout and _KERNEL_TIMEOUTS:
            seconds = int(timeout)
            value = struct.pack("ll", seconds, int((timeout - seconds) * 1_000_000))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
            sock.settimeout(None)
        link.armed = sock

    def _send(self, link: _Link, command: bytes) -> None:
        """Write `command` on the connection's socket (redis-py connects a new one)."""
        sock = link.conn._sock
        if sock is None:
            link.conn.send_packed_command([command], check_health=False)
            return
        if type(sock) is socket.socket:  # not TLS: blocking (`_arm`), written at once
            if link.armed is not sock:
                self._arm(link, sock)
            try:
                written = os.write(sock.fileno(), command)
            except BlockingIOError:  # non-blocking (a timeout of 0) and the buffer full,
                if sock.gettimeout() is None:  # or blocking and SO_SNDTIMEO passed
                    message = "Timeout writing to the Redis socket"
                    raise self._errors.TimeoutError(message) from None
                written = 0
            except OSError as exc:
                message = f"Error while writing to the Redis socket: {exc}"
                raise self._errors.ConnectionError(message) from None
            if written == len(command):
                return
            command = command[written:]  # the rest, below
        try:
            sock.sendall(command)
        except (TimeoutError, BlockingIOError):  # LLM_STATE_TIMEOUT (Python's or SO_SNDTIMEO)
            raise self._errors.TimeoutError("Timeout writing to the Redis socket") from None
        except OSError as exc:
            message = f"Error while writing to the Redis socket: {exc}"
            raise self._errors.ConnectionError(message) from None

    def _read(self, link: _Link) -> Any:
        """One reply, read by the link's `ReplyReader` (not redis-py's parser)."""
        reader = link.reader
        if reader is None:
            reader = link.reader = ReplyReader(self._errors, link.conn._parser.parse_error)
        sock = link.conn._sock
        if sock is None:
            raise self._errors.ConnectionError("Connection closed.")
        return reader.read(sock)

    # unasync: generated wire (do not edit: scripts/unasync.py writes it)
    def _read_unread(self, link: _Link) -> None:
        while link.unread:
            link.unread -= 1
            try:
                self._read(link)
            except self._errors.ResponseError as error:  # in band: the connection is fine
                self._late(error)

    def _drop(self, link: _Link, error: BaseException) -> None:
        lost, link.unread, link.reader = link.unread, 0, None
        link.conn.disconnect()
        if lost:
            self._late(error)

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script `name` and return its reply (one round trip)."""
        return self.call_packed(name, *script_args(keys, args))

    def call_packed(self, name: str, count: int, packed: bytes) -> Any:
        """`call` with the arguments packed already (`script_args`, or a store's own)."""
        scripts = self._scripts  # `Scripts.evalsha`, inline: a reserve's every call counts
        command = b"*%d\r\n%b%b" % (count + 2, scripts.evalsha_heads[name], packed)
        return self._exchange(command, lambda: scripts.eval(name, count, packed))

    def command(self, *args: Any) -> Any:
        """Send one command (``MGET``...) and return its reply (one round trip)."""
        return self._exchange(pack(*args), None)

    def command_packed(self, command: bytes) -> Any:
        """`command` with the command packed already (`pack`, or a store's own)."""
        return self._exchange(command, None)

    def _exchange(self, command: bytes, again: Callable[[], bytes] | None) -> Any:
        """Send `command`, read what earlier fires left unread, then its reply; `again`
        makes the command to send instead when Redis lost the script (``NOSCRIPT``)."""
        try:
            link = reused = self._free.pop()  # `_pop`, inline
        except IndexError:
            link, reused = self._new(), None
        while True:
            try:
                self._send(link, command)
                if link.unread:
                    self._read_unread(link)
                reply = self._read(link)
            except self._errors.ResponseError as error:  # in band: the connection is fine
                if isinstance(error, self._errors.NoScriptError) and again is not None:
                    command, again = again(), None
                    continue
                self._free.append(link)
                raise
            except BaseException as error:
                self._drop(link, error)
                if reused is None or not isinstance(error, self._errors.ConnectionError):
                    raise
                reused, link = None, self._new()  # a pooled connection Redis had closed
                continue
            self._free.append(link)
            return reply

    def fire(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Send script `name` without waiting for its reply (read on the next use)."""
        command = self._scripts.eval(name, *script_args(keys, args))
        link = self._pop()
        if link is not None and not link.unread and self._stale(link):
            link = None
        link = link or self._new()
        try:
            self._send(link, command)
            link.unread += 1
            if link.unread >= MAX_UNREAD:
                self._read_unread(link)
        except BaseException as error:
            self._drop(link, error)
            raise
        self._push(link)

    def _stale(self, link: _Link) -> bool:
        """Whether an idle connection was closed by Redis (a write to it would be lost)."""
        try:
            if not self._readable(link):
                return False
        except (self._errors.RedisError, OSError):
            pass
        link.conn.disconnect()
        return True

    def close(self) -> None:
        """Read what is unread (failures reported) and close the connections."""
        links, self._free = self._free, []
        for link in links:
            try:
                self._read_unread(link)
            except (self._errors.RedisError, OSError) as error:
                self._late(error)
            link.conn.disconnect()

    # unasync: end
