"""The blocking wire's reply reader (`persona_llm.state._resp`): what it reads off a socket.

The replies come over a real socket pair, written whole or a few bytes at a time (a reply
split across reads must come out the same), then over a real Redis: large values, error
replies, a stalled server and a dropped connection, as the cache's reads meet them.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from redis._parsers import BaseParser

from persona_llm.state._resp import ReplyReader
from persona_llm.state.redis import RedisStore
from persona_llm.state.store import StoreError
from persona_llm.testing.redis_server import RedisServer


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(1.0)
    yield ours, theirs
    ours.close()
    theirs.close()


def reader() -> ReplyReader:
    return ReplyReader(redis.exceptions, BaseParser.parse_error)


def dribble(sock: socket.socket, data: bytes, step: int) -> threading.Thread:
    """Write `data` `step` bytes at a time, with pauses (each piece its own read)."""

    def write() -> None:
        for start in range(0, len(data), step):
            sock.sendall(data[start : start + step])
            time.sleep(0.001)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


REPLIES = [
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"_\r\n", None),
    (b"*-1\r\n", None),
    (b":42\r\n", 42),
    (b":-7\r\n", -7),
    (b"+OK\r\n", b"OK"),
    (b",1.5\r\n", 1.5),
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b"*0\r\n", []),
    (b"*3\r\n$1\r\na\r\n$-1\r\n_\r\n", [b"a", None, None]),
    (b"*2\r\n:1\r\n*2\r\n$2\r\nxy\r\n:0\r\n", [1, [b"xy", 0]]),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # a bulk string may hold CRLF
]


@pytest.mark.parametrize(("wire", "value"), REPLIES)
@pytest.mark.parametrize("step", [1, 3, 1000])
def test_each_reply_shape_reads_the_same_whole_or_in_pieces(
    pair: tuple[socket.socket, socket.socket], wire: bytes, value: object, step: int
) -> None:
    ours, theirs = pair
    writer = dribble(theirs, wire, step)
    assert reader().read(ours) == value
    writer.join()


def test_replies_that_arrive_together_are_read_one_at_a_time(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(b":1\r\n$3\r\nabc\r\n*1\r\n$-1\r\n")
    replies = reader()
    assert [replies.read(ours), replies.read(ours)] == [1, b"abc"]
    assert replies.buffered
    assert replies.read(ours) == [None]
    assert not replies.buffered


def test_a_value_larger_than_the_buffer_grows_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    big = bytes(range(256)) * 4000  # 1 MB: past the first buffer and what is kept
    writer = dribble(theirs, b"*2\r\n$%d\r\n%b\r\n:5\r\n" % (len(big), big), 65536)
    assert reader().read(ours) == [big, 5]
    writer.join()


def test_error_replies_raise_what_redis_py_raises(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    replies = reader()
    theirs.sendall(b"-NOSCRIPT No matching script.\r\n-ERR wrong\r\n")
    with pytest.raises(redis.exceptions.NoScriptError):
        replies.read(ours)
    with pytest.raises(redis.exceptions.ResponseError, match="wrong"):
        replies.read(ours)
    theirs.sendall(b"*2\r\n-ERR inside\r\n:1\r\n")  # inside an array: the element
    inside, one = replies.read(ours)
    assert isinstance(inside, redis.exceptions.ResponseError) and one == 1


def test_an_unexpected_reply_type_is_an_error_not_a_value(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(b"%1\r\n+a\r\n+b\r\n")
    with pytest.raises(redis.exceptions.InvalidResponse):
        reader().read(ours)


def test_a_closed_connection_and_a_silent_one_are_redis_py_errors(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    ours.settimeout(0.05)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        reader().read(ours)
    assert time.monotonic() - started < 1.0
    theirs.sendall(b"$10\r\nhalf")
    theirs.close()
    with pytest.raises(redis.exceptions.ConnectionError, match="closed"):
        reader().read(ours)


# -- on a real Redis ------------------------------------------------------------------------


def test_large_values_and_many_keys_round_trip(redis_store: RedisStore) -> None:
    values = {f"k{i}": bytes([i]) * (i * 9000) for i in range(40)}  # up to 351 KB each
    redis_store.set_many(values, None)
    keys = [*values, "missing"]
    assert redis_store.get_many(keys) == [*values.values(), None]
    assert redis_store.get_many(["k3"]) == [values["k3"]]  # the connection still in step


def test_a_redis_error_reply_is_raised_and_the_connection_stays_usable(
    redis_store: RedisStore,
) -> None:
    redis_store.set_many({"k": b"v"}, None)
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        redis_store._wire.command(b"INCR", redis_store._prefix + "k")
    assert redis_store.get_many(["k"]) == [b"v"]


def test_a_stalled_redis_read_fails_within_the_store_timeout(
    own_server: Callable[..., RedisServer],
) -> None:
    server = own_server()
    store = RedisStore(server.url, prefix="p:", timeout=0.2)
    store.set_many({"k": b"v"}, None)
    assert store.get_many(["k"]) == [b"v"]
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.0"))
    stall.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(StoreError, match="Timeout"):
        store.get_many(["k"])
    assert time.monotonic() - started < 0.6
    stall.join()
    assert store.get_many(["k"]) == [b"v"]  # a new connection: the late reply is not read
    store.close()


def test_a_connection_redis_closed_is_replaced_once(redis_store: RedisStore) -> None:
    redis_store.set_many({"k": b"v"}, None)
    assert redis_store.get_many(["k"]) == [b"v"]
    admin = redis_store._client
    admin.client_kill_filter(_type="normal", skipme=True)
    assert redis_store.get_many(["k"]) == [b"v"]


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's timeouts are used on Linux")
def test_a_used_connection_waits_in_the_kernel_with_the_store_timeout(
    own_server: Callable[..., RedisServer],
) -> None:
    # one recvfrom per reply, no poll() first: the socket blocks, SO_RCVTIMEO bounds it
    server = own_server()
    store = RedisStore(server.url, prefix="p:", timeout=0.3)
    store.set_many({"k": b"v"}, None)
    for _ in range(2):  # the first connects (redis-py's timeout), the next is armed
        assert store.get_many(["k"]) == [b"v"]
    sock = store._wire._free[0].conn._sock
    assert sock.gettimeout() is None
    for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
        seconds, micros = struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, option, 16))
        assert seconds + micros / 1_000_000 == pytest.approx(0.3, abs=0.01)
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.0"))
    stall.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(StoreError, match="Timeout"):
        store.get_many(["k"])
    assert 0.25 < time.monotonic() - started < 0.8
    stall.join()
    assert store.get_many(["k"]) == [b"v"]
    store.close()
