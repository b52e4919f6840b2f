"""The blocking wire's packing and what its reply reader skips (see also test_replies.py).

The reserve is packed from parts the store keeps per rule, so these tests pin the bytes and
that both protocols answer the same; a RESP3 push message that arrives before a reply (a
tracking invalidation here, a managed Redis's maintenance notice in production) is skipped,
not taken for the reply nor a reason to drop the connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest
import redis
import redis.exceptions

from persona_llm.state._packing import pack
from persona_llm.state._resp import ReplyReader
from persona_llm.state.redis import RedisStore
from persona_llm.state.store import HoldRule, LeaseRule, StoreError, WindowRule
from persona_llm.testing.redis_server import RedisServer


def test_pack_writes_bulk_strings() -> None:
    assert pack("MGET", b"k", 1, 2.5, "é") == (
        b"*5\r\n$4\r\nMGET\r\n$1\r\nk\r\n$1\r\n1\r\n$3\r\n2.5\r\n$2\r\n\xc3\xa9\r\n"
    )


def test_a_push_message_before_a_reply_is_skipped() -> None:
    ours, theirs = socket.socketpair()
    ours.settimeout(2)
    parser = redis.Redis().connection_pool.make_connection()._parser
    reader = ReplyReader(redis.exceptions, parser.parse_error)
    theirs.sendall(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n:5\r\n")
    assert reader.read(ours) == 5
    theirs.sendall(b">1\r\n$3\r\nbye\r\n")
    theirs.sendall(b"*1\r\n$1\r\nv\r\n")
    assert reader.read(ours) == [b"v"]
    ours.close()
    theirs.close()


def test_an_invalidation_pushed_between_replies_is_skipped(
    redis_server: RedisServer, prefix: str
) -> None:
    store = RedisStore(redis_server.url, prefix=prefix)  # RESP3: redis-py 8's default
    assert store._wire.command("CLIENT", "TRACKING", "on") == b"OK"
    assert store._wire.command("GET", f"{prefix}tracked") is None  # now tracked
    redis.Redis.from_url(redis_server.url).set(f"{prefix}tracked", "changed")
    time.sleep(0.05)  # the invalidation is on our connection before the next reply
    assert store.get_many(["tracked"]) == [b"changed"]
    store.close()


@pytest.mark.parametrize("protocol", ["", "?protocol=2"])
def test_the_packed_reserve_reads_the_same_in_both_protocols(
    redis_server: RedisServer, prefix: str, protocol: str
) -> None:
    store = RedisStore(redis_server.url + protocol, prefix=prefix)
    hold = HoldRule("hold", 30, 10, 20)
    window = WindowRule("w", 2, 60, 1)
    tokens = WindowRule("t", 100, 60, 30)
    lease = LeaseRule("c", 5, 60)
    for token in ("a", "b"):  # the second reserve is packed from the kept parts
        assert store.acquire([hold, window, tokens, lease], token).admitted
    refused = store.acquire([hold, window, tokens, lease], "c", [("t", "a", 10)])
    assert not refused.admitted and refused.rule == 1 and refused.used == 2
    # the correction rode on the refused reserve: 10 + 30 of 100 tokens used
    assert store.acquire([WindowRule("t", 100, 60, 60)], "d").admitted
    assert not store.acquire([WindowRule("t", 100, 60, 1)], "e").admitted
    store.close()


async def test_an_asyncio_reserve_on_a_stalled_redis_fails_within_its_bound(
    own_server: Callable[..., RedisServer],
) -> None:
    # the asyncio store bounds each command by twice the store timeout plus 50 ms
    # (asyncio.timeout on 3.11+, wait_for before): a stalled Redis is a StoreError by then
    server = own_server()
    store = RedisStore(server.url, prefix="p:", timeout=0.2)
    rule = WindowRule("w", 100, 60, 1)
    assert (await store.aacquire([rule], "warm")).admitted
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.5"))
    stall.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(StoreError, match="acquire"):
        await store.aacquire([rule], "stalled")
    took = time.monotonic() - started
    stall.join()
    assert took < 2 * 0.2 + 0.05 + 0.3
    await store.aclose()
