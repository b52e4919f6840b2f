"""The store's operations, the same on both backends (memory, and a real Redis)."""

from __future__ import annotations

import threading
import time

import pytest

from persona_llm.state.memory import MemoryStore
from persona_llm.state.store import LeaseRule, StateStore, WindowRule
from persona_llm.testing.clock import FakeClock


def window(limit: float, amount: float = 1, span: float = 60.0, key: str = "w") -> WindowRule:
    return WindowRule(key, limit, span, amount)


def test_a_window_admits_up_to_its_limit_then_says_how_long_to_wait(store: StateStore) -> None:
    assert all(store.acquire([window(3)], f"t{i}").admitted for i in range(3))
    refused = store.acquire([window(3)], "t3")
    assert not refused.admitted
    assert refused.rule == 0 and refused.used == 3
    assert 59.0 < refused.wait <= 60.0


def test_a_call_larger_than_the_limit_never_fits(store: StateStore) -> None:
    refused = store.acquire([window(100, amount=101)], "big")
    assert not refused.admitted and refused.wait == -1


def test_token_windows_wait_until_enough_tokens_leave(store: StateStore) -> None:
    assert store.acquire([window(100, amount=60, span=0.4)], "a").admitted
    time.sleep(0.1)
    assert store.acquire([window(100, amount=30, span=0.4)], "b").admitted
    refused = store.acquire([window(100, amount=50, span=0.4)], "c")
    assert not refused.admitted and refused.used == 90
    assert 0.2 < refused.wait <= 0.31  # "a" must leave (40 free is not enough for 50)
    time.sleep(refused.wait + 0.02)
    assert store.acquire([window(100, amount=50, span=0.4)], "c").admitted


def test_rules_are_taken_all_or_none(store: StateStore) -> None:
    rules = [window(10, key="requests"), window(5, amount=5, key="tokens")]
    assert store.acquire(rules, "first").admitted
    refused = store.acquire(rules, "second")
    assert not refused.admitted and refused.rule == 1
    # the refused call took nothing from the request window: 9 more requests fit there
    assert all(store.acquire([window(10, key="requests")], f"r{i}").admitted for i in range(9))
    assert not store.acquire([window(10, key="requests")], "r9").admitted


def test_adjust_replaces_a_reservation_with_the_real_amount(store: StateStore) -> None:
    assert store.acquire([window(100, amount=90)], "call").admitted
    assert not store.acquire([window(100, amount=20)], "next").admitted
    store.adjust("w", "call", 10)
    assert store.acquire([window(100, amount=20)], "next").admitted


def test_leases_count_calls_in_flight_and_release_frees_one(store: StateStore) -> None:
    rule = LeaseRule("c", 2, ttl=60)
    assert store.acquire([rule], "a").admitted and store.acquire([rule], "b").admitted
    refused = store.acquire([rule], "c")
    assert not refused.admitted and refused.used == 2 and refused.wait > 0
    store.release("c", "a")
    assert store.acquire([rule], "c").admitted


def test_a_lease_of_a_dead_worker_expires(store: StateStore) -> None:
    assert store.acquire([LeaseRule("c", 1, ttl=0.2)], "dead").admitted
    assert not store.acquire([LeaseRule("c", 1, ttl=0.2)], "x").admitted
    time.sleep(0.25)
    assert store.acquire([LeaseRule("c", 1, ttl=0.2)], "x").admitted


def test_the_breaker_opens_after_threshold_failures_then_lets_one_probe(store: StateStore) -> None:
    assert store.breaker_ready(["b"], 5) == [-1]
    assert not store.breaker_report("b", False, 2, 0.3)
    assert store.breaker_report("b", False, 2, 0.3)  # second failure opens it
    assert 0 < store.breaker_ready(["b"], 5)[0] <= 0.3
    time.sleep(0.32)
    assert store.breaker_ready(["b"], 5) == [-1]  # this caller is the probe
    assert store.breaker_ready(["b"], 5)[0] > 4  # everyone else waits for it
    assert store.breaker_report("b", True, 2, 0.3)  # the probe succeeded: closed
    assert store.breaker_ready(["b"], 5) == [-1]


def test_a_failed_probe_opens_the_breaker_again(store: StateStore) -> None:
    store.breaker_report("b", False, 1, 0.2)
    time.sleep(0.22)
    assert store.breaker_ready(["b", "other"], 5) == [-1, -1]
    assert store.breaker_report("b", False, 1, 0.2)
    assert store.breaker_ready(["b"], 5)[0] > 0.1


def test_a_success_resets_the_count(store: StateStore) -> None:
    store.breaker_report("b", False, 2, 10)
    assert not store.breaker_report("b", True, 2, 10)  # nothing was open
    assert not store.breaker_report("b", False, 2, 10)
    assert store.breaker_ready(["b"], 5) == [-1]


def test_usage_counters_add_up_and_expire(store: StateStore) -> None:
    store.add_usage("u", {"cost_usd": 0.25, "calls": 1}, ttl=None)
    store.add_usage("u", {"cost_usd": 0.5, "calls": 1}, ttl=None)
    assert store.read_usage("u") == {"cost_usd": 0.75, "calls": 2}
    assert store.read_usage("nobody") == {}


def test_values_round_trip_and_expire(store: StateStore) -> None:
    store.set_many({"a": b"1", "b": b"\x00\xff"}, ttl=None)
    store.set_many({"short": b"x"}, ttl=0.15)
    assert store.get_many(["a", "b", "short", "none"]) == [b"1", b"\x00\xff", b"x", None]
    time.sleep(0.2)
    assert store.get_many(["short"]) == [None]


def test_many_threads_never_exceed_a_window(store: StateStore) -> None:
    admitted: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(10):
            if store.acquire([window(25)], f"{n}-{i}").admitted:
                with lock:
                    admitted.append(f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 25


async def test_the_asyncio_twins_share_the_same_state(store: StateStore) -> None:
    assert (await store.aacquire([window(1)], "a")).admitted
    assert not store.acquire([window(1)], "b").admitted
    await store.aadjust("w", "a", 1)
    await store.aset_many({"k": b"v"}, ttl=None)
    assert await store.aget_many(["k"]) == [b"v"]
    await store.aadd_usage("u", {"cost_usd": 1.0}, ttl=60)
    assert await store.aread_usage("u") == {"cost_usd": 1.0}
    assert await store.abreaker_ready(["b"], 1) == [-1]
    assert not await store.abreaker_report("b", False, 3, 1)
    assert (await store.aacquire([LeaseRule("l", 1, 10)], "x")).admitted
    await store.arelease("l", "x")
    assert (await store.aacquire([LeaseRule("l", 1, 10)], "y")).admitted


def test_the_memory_store_follows_its_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    store.set_many({"k": b"v"}, ttl=10)
    assert store.acquire([window(1)], "a").admitted
    clock.advance(9.9)
    assert store.get_many(["k"]) == [b"v"]
    assert not store.acquire([window(1)], "b").admitted
    clock.advance(60)
    assert store.get_many(["k"]) == [None]
    assert store.acquire([window(1)], "b").admitted


@pytest.mark.parametrize("backend", ["redis"])
def test_keys_carry_the_prefix(backend: str, redis_store: StateStore, redis_server) -> None:  # type: ignore[no-untyped-def]
    redis_store.set_many({"k": b"v"}, ttl=None)
    prefix = redis_store._prefix  # type: ignore[attr-defined]
    assert redis_server.command("EXISTS", f"{prefix}k") == ":1"
    assert redis_server.command("EXISTS", "k") == ":0"


def test_corrections_ride_on_the_next_acquire_before_its_check(store: StateStore) -> None:
    assert store.acquire([window(100, amount=90)], "call").admitted
    admitted = store.acquire([window(100, amount=20)], "next", [("w", "call", 10)])
    assert admitted.admitted  # the correction freed 80 before "next" was checked
    assert not store.acquire([window(100, amount=80)], "third").admitted  # 10 + 20 + 80


def test_settle_corrects_and_releases_in_one_step(store: StateStore) -> None:
    lease = LeaseRule("c", 1, ttl=60)
    assert store.acquire([window(100, amount=90), lease], "call").admitted
    store.settle([("w", "call", 10)], [("c", "call")])
    assert store.acquire([window(100, amount=90), lease], "next").admitted
