"""Figure 3: concurrency with 100 ms of server latency.

* asyncio: 512 concurrent ``await get_async_chat_client().chat(...)`` against 512 concurrent
  calls on the raw async SDK client, in one event loop, rounds alternating; wall time of a
  round, median of the rounds. Target ≤ 1.00x (issue 20). The process's thread count (OS threads) is
  sampled while the calls are in flight: the asyncio facade must not use a thread per request.
* threads: the blocking facade (``get_chat_client().chat``) from a 64-thread pool, 512
  calls, against the raw blocking SDK client shared by the same pool. Target ≤ 1.00x (issue 20).

Every round starts with `_fresh_collector()`: ``gc.collect()`` then ``gc.freeze()``. A full
collection walks every object in the process, mostly the SDKs' modules (80-90 ms here), and a
round of 512 calls triggers none, one or two of them, depending on where the collector's
counters stood: which side a full collection landed on moved a ratio by 5-15 % from run to
run. Each round now starts from the same collector state, and the objects alive before it
(modules, clients, pools) are frozen, as servers that load before forking do, so a full
collection walks what the round allocated: each side pays for its own allocations.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks import _clients as clients
from benchmarks._common import Row, bench_server, main_for, median, os_thread_count, ratio_row

LATENCY = 0.1
CONCURRENT = 512
POOL_THREADS = 64
ASYNC_TARGET, THREAD_TARGET = 1.00, 1.00  # issue 20: no slower than the raw SDK (was 1.10, 1.2)
THREADS_PER_REQUEST_LIMIT = 8  # more extra threads than this for 512 calls is "a thread each"


def _fresh_collector() -> None:
    """Collect, then freeze what is left: see the module docstring."""
    gc.collect()
    gc.freeze()


async def _round(call: Callable[[], Awaitable[str]], peak: list[int]) -> float:
    """Seconds for `CONCURRENT` concurrent calls; the highest OS thread count goes in `peak`."""
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak.append(os_thread_count())
            await asyncio.sleep(LATENCY / 10)

    _fresh_collector()
    sampler = asyncio.create_task(sample())
    start = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(CONCURRENT)))
    elapsed = time.perf_counter() - start
    done.set()
    await sampler
    return elapsed


@dataclass
class _AsyncResult:
    times: dict[str, list[float]]
    peaks: dict[str, list[int]]
    baseline: int


async def _asyncio_rounds(provider: str, root: str, rounds: int) -> _AsyncResult:
    raw_client = clients.raw_client(provider, root, asynchronous=True)
    calls = {
        "raw": clients.raw_async_chat(provider, raw_client),
        "ours": clients.container_async_chat(),
    }
    baseline = os_thread_count()
    times: dict[str, list[float]] = {"raw": [], "ours": []}
    peaks: dict[str, list[int]] = {"raw": [], "ours": []}
    for index in range(rounds + 1):  # round 0 warms both pools up and is not counted
        order = ["raw", "ours"] if index % 2 else ["ours", "raw"]
        for name in order:
            seconds = await _round(calls[name], peaks[name])
            if index:
                times[name].append(seconds)
    from persona_llm.facades import get_async_chat_client

    await get_async_chat_client().adapter.aclose()
    await (raw_client.aio.aclose() if provider == "gemini" else raw_client.close())
    return _AsyncResult(times, peaks, baseline)


def asyncio_rows(provider: str, root: str, rounds: int) -> list[Row]:
    """Wall time and thread rows of the asyncio round for one provider."""
    clients.point_container_at(provider, root)
    result = asyncio.run(_asyncio_rounds(provider, root, rounds))
    ours, raw = median(result.times["ours"]), median(result.times["raw"])
    baseline = result.baseline
    extra_ours = max(result.peaks["ours"]) - baseline
    extra_raw = max(result.peaks["raw"]) - baseline
    group = "3. concurrency"
    return [
        ratio_row(
            f"asyncio: {CONCURRENT} concurrent chat(), {provider}, 100 ms latency",
            ours,
            raw,
            "s",
            limit=ASYNC_TARGET,
            note=f"wall time, median of {rounds} rounds",
            group=group,
        ),
        Row(
            f"asyncio: extra OS threads with {CONCURRENT} in flight, {provider}",
            float(extra_ours),
            float(extra_raw),
            "threads",
            target=f"≤ {THREADS_PER_REQUEST_LIMIT} (no thread per request)",
            met=extra_ours <= THREADS_PER_REQUEST_LIMIT,
            note=f"peak OS threads minus the {baseline} before the first round",
            group=group,
        ),
    ]


def _pool_round(pool: ThreadPoolExecutor, call: Callable[[], str]) -> float:
    _fresh_collector()
    start = time.perf_counter()
    futures = [pool.submit(call) for _ in range(CONCURRENT)]
    for future in futures:
        future.result()
    return time.perf_counter() - start


def thread_rows(provider: str, root: str, rounds: int) -> list[Row]:
    """Wall time of 512 blocking calls from a 64-thread pool, ours against raw."""
    clients.point_container_at(provider, root)
    calls = {
        "raw": clients.raw_chat(provider, clients.raw_client(provider, root)),
        "ours": clients.container_chat(),
    }
    times: dict[str, list[float]] = {"raw": [], "ours": []}
    with ThreadPoolExecutor(POOL_THREADS) as pool:
        for index in range(rounds + 1):
            order = ["raw", "ours"] if index % 2 else ["ours", "raw"]
            for name in order:
                seconds = _pool_round(pool, calls[name])
                if index:
                    times[name].append(seconds)
    return [
        ratio_row(
            f"threads: {CONCURRENT} blocking chat() from {POOL_THREADS} threads, {provider}",
            median(times["ours"]),
            median(times["raw"]),
            "s",
            limit=THREAD_TARGET,
            note=f"wall time, 100 ms latency, median of {rounds} rounds",
            group="3. concurrency",
        )
    ]


def run(quick: bool = False) -> list[Row]:
    """asyncio then thread-pool rows, every provider, one server with 100 ms latency."""
    rounds = 1 if quick else 5
    rows: list[Row] = []
    with bench_server(latency=LATENCY) as server:
        for provider in clients.PROVIDERS:
            rows += asyncio_rows(provider, server.root, rounds)
        for provider in clients.PROVIDERS:
            rows += thread_rows(provider, server.root, rounds)
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
