"""What each layer of the container adds to one blocking ``chat()``.

    python -m benchmarks.diagnose_layers [provider ...]
    python -m benchmarks.diagnose_layers --asyncio openai   # 512 concurrent rounds

Builds one `Container` per configuration (settings are read when its first client is
fetched), then interleaves calls on all of them and on the raw SDK, zero server latency:

* raw SDK;
* ``ChatClient(build_adapter(config))``: our mapping and validation, no wrapper;
* container, ``LLM_MAX_RETRIES=0 LLM_OTEL=false``: + usage/cost recording and hooks
  (`persona_llm.usage.observed.ObservedAdapter`), no retry wrapper, no spans;
* container, ``LLM_OTEL=false``: + the retry wrapper (`persona_llm.reliability`);
* container, defaults: + OpenTelemetry spans when ``opentelemetry-api`` is importable
  (with the global no-op tracer provider unless the application installs one);
* ``get_chat_client().chat()``: + the facade's lookup (task routing included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import bench_server, median
from benchmarks.bench_overhead import interleaved

LAYERS = {
    "container, LLM_MAX_RETRIES=0 LLM_OTEL=false": {"LLM_MAX_RETRIES": "0", "LLM_OTEL": "false"},
    "container, LLM_OTEL=false": {"LLM_OTEL": "false"},
    "Container().chat_client(), defaults": {},
}
FACADE = "get_chat_client().chat(): the default container, via the facade"


def _container(provider: str, root: str, extra_env: dict[str, str]) -> Any:
    """A new `Container` configured by the benchmark env plus `extra_env`."""
    from persona_llm.containers import Container

    clients.point_container_at(provider, root)
    os.environ.update(extra_env)
    container = Container()
    container.settings()  # settings are read now, from this environment
    return container


def _print(provider: str, times: dict[str, list[float]], unit: str, what: str) -> None:
    raw = median(times["raw SDK"])
    print(f"{provider} ({what}):")
    for label, values in times.items():
        value = median(values)
        print(f"  {value:9.3f} {unit}  {value / raw:6.3f}x  +{value - raw:8.3f} {unit}  {label}")


def blocking(provider: str, root: str, rounds: int) -> None:
    """Per-call medians of every layer, interleaved, zero latency."""
    calls = {"raw SDK": clients.raw_chat(provider, clients.raw_client(provider, root))}
    calls["ChatClient(build_adapter(config))"] = clients.direct_chat(provider, root)[1]
    for label, env in LAYERS.items():
        client = _container(provider, root, env).chat_client()
        calls[label] = (lambda c: lambda: c.chat(clients.MESSAGES).content)(client)
    clients.point_container_at(provider, root)
    calls[FACADE] = clients.container_chat()
    interleaved(calls, 200)
    times = interleaved(calls, rounds)
    _print(provider, times, "µs", f"median of {rounds} interleaved calls each")


async def _asyncio_rounds(provider: str, root: str, rounds: int) -> dict[str, list[float]]:
    from benchmarks.bench_concurrency import CONCURRENT, _fresh_collector
    from persona_llm.clients import AsyncChatClient
    from persona_llm.providers import build_adapter

    raw_client = clients.raw_client(provider, root, asynchronous=True)
    direct = AsyncChatClient(
        build_adapter(clients.provider_config(provider, root)), clients.CHAT_MODELS[provider]
    )
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "raw SDK": clients.raw_async_chat(provider, raw_client),
        "AsyncChatClient(build_adapter(config))": lambda: direct.chat(clients.MESSAGES),
    }
    opened = [direct]
    for label, env in LAYERS.items():
        client = _container(provider, root, env).async_chat_client()
        opened.append(client)
        calls[label] = (lambda c: lambda: c.chat(clients.MESSAGES))(client)
    clients.point_container_at(provider, root)
    calls[FACADE.replace("get_chat", "get_async_chat")] = clients.container_async_chat()
    times: dict[str, list[float]] = {label: [] for label in calls}
    for index in range(rounds + 1):  # round 0 warms every pool up
        for label, call in calls.items():
            _fresh_collector()  # every round from the same collector state
            start = time.perf_counter()
            await asyncio.gather(*(call() for _ in range(CONCURRENT)))
            if index:
                times[label].append(time.perf_counter() - start)
    from persona_llm.facades import get_async_chat_client

    for client in [*opened, get_async_chat_client()]:  # before the loop ends
        await client.adapter.aclose()
    await (raw_client.aio.aclose() if provider == "gemini" else raw_client.close())
    return times


def main() -> None:
    """Command line: providers as arguments; ``--asyncio`` for 512 concurrent calls."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("providers", nargs="*", default=list(clients.PROVIDERS))
    parser.add_argument("--asyncio", action="store_true", help="512 concurrent, 100 ms latency")
    args = parser.parse_args()
    with bench_server(latency=0.1 if args.asyncio else 0.0) as server:
        for provider in args.providers:
            if args.asyncio:
                times = asyncio.run(_asyncio_rounds(provider, server.root, 3))
                _print(provider, times, "s", "512 concurrent, 100 ms latency, median of 3 rounds")
            else:
                blocking(provider, server.root, 1500)


if __name__ == "__main__":
    main()
