"""Figure 5: memory after many calls, to catch leaks from caches, trackers or logs.

For each provider, in one process: 1,000 warm-up calls, a garbage collection, the RSS; then
10,000 more calls, a collection, the RSS again. The growth is the figure; target ≤ 5 MiB.
The raw SDK runs the same sequence first, as a reference (an SDK's own growth is not
ours). The asyncio facade runs it once too (OpenAI), 64 calls at a time in one event loop.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

from benchmarks import _clients as clients
from benchmarks._common import Row, bench_server, main_for, rss_mb

WARMUP, CALLS = 1_000, 10_000
LIMIT_MB = 5.0
ASYNC_BATCH = 64


def growth(call: Callable[[], str], calls: int) -> float:
    """RSS growth (MiB) over `calls` calls, after `WARMUP` calls."""
    for _ in range(WARMUP):
        call()
    gc.collect()
    before = rss_mb()
    for _ in range(calls):
        call()
    gc.collect()
    return rss_mb() - before


async def agrowth(call: Callable[[], Awaitable[str]], calls: int) -> float:
    """Asyncio twin of `growth`, `ASYNC_BATCH` calls in flight at a time."""

    async def batch(count: int) -> None:
        for start in range(0, count, ASYNC_BATCH):
            await asyncio.gather(*(call() for _ in range(min(ASYNC_BATCH, count - start))))

    await batch(WARMUP)
    gc.collect()
    before = rss_mb()
    await batch(calls)
    gc.collect()
    return rss_mb() - before


def _row(label: str, ours: float, raw: float | None, calls: int) -> Row:
    return Row(
        f"RSS growth over {calls:,} chat() calls, {label}",
        ours,
        raw,
        "MiB",
        target=f"≤ {LIMIT_MB:.0f} MiB",
        met=ours <= LIMIT_MB,
        note=f"after {WARMUP:,} warm-up calls; gc.collect() before each reading",
        group="5. memory",
    )


async def _async_pair(root: str, calls: int) -> tuple[float, float]:
    raw_client = clients.raw_client("openai", root, asynchronous=True)
    raw = await agrowth(clients.raw_async_chat("openai", raw_client), calls)
    ours = await agrowth(clients.container_async_chat(), calls)
    from persona_llm.facades import get_async_chat_client

    await get_async_chat_client().adapter.aclose()
    await raw_client.close()
    return ours, raw


def run(quick: bool = False) -> list[Row]:
    """Every provider through the container (blocking), then OpenAI's asyncio facade."""
    calls = 2_000 if quick else CALLS
    rows = []
    with bench_server(latency=0.0) as server:
        for provider in clients.PROVIDERS:
            clients.point_container_at(provider, server.root)
            raw_call = clients.raw_chat(provider, clients.raw_client(provider, server.root))
            raw = growth(raw_call, calls)
            ours = growth(clients.container_chat(), calls)
            rows.append(_row(f"{provider}, get_chat_client()", ours, raw, calls))
        clients.point_container_at("openai", server.root)
        ours, raw = asyncio.run(_async_pair(server.root, calls))
        rows.append(_row("openai, asyncio facade", ours, raw, calls))
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
