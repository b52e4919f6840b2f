"""Figure 2: per-call overhead of blocking ``chat()`` against the raw SDK call.

One process, zero server latency, identical request and reply (checked on the wire before
timing). The raw SDK call, ``get_chat_client().chat()`` (container) and
``ChatClient(build_adapter(...)).chat()`` (direct) are interleaved call by call, in an order
that rotates each round so neither side always runs first; each figure is the median of the
per-call wall times. Target (issue 20): persona-llm / raw ≤ 0.97 on OpenAI, Azure and
Anthropic (the adapters map the HTTP body without the SDK's models), ≤ 1.02 on Gemini.

Peers: with the ``bench`` extra installed (``pip install -e ".[bench]"``), aisuite and LiteLLM
join the OpenAI rotation as two more variants, so their ratios come from the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from benchmarks import _clients as clients
from benchmarks._common import BenchServer, Row, bench_server, main_for, median, ratio_row

TARGETS = {"openai": 0.97, "azure": 0.97, "anthropic": 0.97, "gemini": 1.02}
WARMUP = 200


def same_request(server: BenchServer, provider: str, calls: dict[str, Callable[[], str]]) -> bool:
    """True when every variant sends the same path and JSON body for the benchmark call."""
    seen = []
    for call in calls.values():
        call()
        last = server.last_request(f"{provider}-chat") or {}
        seen.append((last.get("path"), json.loads(last.get("body") or "null")))
    return all(item == seen[0] for item in seen)


def interleaved(
    calls: dict[str, Callable[[], str]],
    rounds: int,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Per-call wall times (µs) of each variant, interleaved A/B/C in a rotating order.

    `cpu`, when given, receives each call's CPU time of this process (µs, ``process_time``):
    the client's own work, which other processes on a busy machine disturb far less than
    the wall time (the server's work runs in its own process and is not in it).
    """
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    used: dict[str, list[float]] = cpu if cpu is not None else {}
    for name in names:
        used.setdefault(name, [])
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            start, start_cpu = clock(), cpu_clock()
            call()
            used[name].append((cpu_clock() - start_cpu) / 1000)
            times[name].append((clock() - start) / 1000)
    return times


def run_provider(server: BenchServer, provider: str, rounds: int) -> list[Row]:
    """The container and direct rows for one provider."""
    raw_client = clients.raw_client(provider, server.root)
    _, direct = clients.direct_chat(provider, server.root)
    clients.point_container_at(provider, server.root)
    calls = {
        "raw": clients.raw_chat(provider, raw_client),
        "container": clients.container_chat(),
        "direct": direct,
    }
    identical = same_request(server, provider, calls)
    interleaved(calls, WARMUP)
    cpu: dict[str, list[float]] = {}
    times = interleaved(calls, rounds, cpu)
    raw = median(times["raw"])
    raw_cpu = sum(cpu["raw"]) / rounds
    note = f"median of {rounds} calls each" + ("" if identical else "; REQUESTS DIFFER")
    rows = []
    for variant, label in (("container", "get_chat_client()"), ("direct", "ChatClient")):
        ours = median(times[variant])
        row = ratio_row(
            f"chat() per call, {provider}, {label}",
            ours,
            raw,
            "µs",
            limit=TARGETS[provider],
            note=f"{note}; +{ours - raw:.0f} µs; CPU {sum(cpu[variant]) / rounds / raw_cpu:.3f}x "
            f"({sum(cpu[variant]) / rounds:.0f} vs {raw_cpu:.0f} µs, mean)",
            group="2. per-call overhead",
        )
        row.extra = {"identical_request": identical}
        rows.append(row)
    return rows


def peer_row(
    server: BenchServer,
    provider: str,
    raw_call: Callable[[], str],
    name: str,
    peer: Callable[[], str],
    rounds: int,
) -> Row:
    """A peer against the raw SDK in a rotation of their own.

    Not in the main rotation: LiteLLM leaves work to background threads after each call,
    which would slow down whichever variant follows it there.
    """
    pair = {"raw": raw_call, name: peer}
    same = "" if same_request(server, provider, pair) else "; request differs from the raw SDK's"
    interleaved(pair, WARMUP)
    times = interleaved(pair, rounds)
    ours, raw = median(times[name]), median(times["raw"])
    return ratio_row(
        f"chat() per call, {provider}, peer: {name}",
        ours,
        raw,
        "µs",
        note=f"median of {rounds} calls each, in a rotation of its own{same}; +{ours - raw:.0f} µs",
        group="2. per-call overhead",
    )


def run(quick: bool = False) -> list[Row]:
    """All providers, one server, zero latency."""
    rounds = 300 if quick else 1200
    rows: list[Row] = []
    with bench_server(latency=0.0) as server:
        for provider in clients.PROVIDERS:
            rows += run_provider(server, provider, rounds)
        # Last: importing LiteLLM starts threads of its own, which stay.
        raw_call = clients.raw_chat("openai", clients.raw_client("openai", server.root))
        for name, peer in clients.peer_chats("openai", server.root).items():
            rows.append(peer_row(server, "openai", raw_call, name, peer, rounds))
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
