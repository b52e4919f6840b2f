"""Streaming: a whole 200-chunk reply through ``get_chat_client().stream()`` against the raw SDK.

One process, zero server latency, the same request (checked on the wire before timing):
the raw side iterates ``client.chat.completions.create(..., stream=True,
stream_options={"include_usage": True})`` (what persona-llm sends) and joins
``choices[0].delta.content``; for Anthropic it iterates ``messages.create(..., stream=True)``
and joins the ``text_delta`` texts. persona-llm joins ``chunk.delta`` of every chunk. Calls
are interleaved one by one in a rotating order; each figure is the median of the per-reply
wall times. Target (issue 20): persona-llm / raw ≤ 0.97.
"""

from __future__ import annotations

from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import BenchServer, Row, bench_server, main_for, median, ratio_row
from benchmarks.bench_overhead import interleaved, same_request

TARGET = 0.97
WARMUP = 30
PROVIDERS = ("openai", "azure", "anthropic")


def raw_stream(provider: str, client: Any) -> clients.ChatCall:
    """The bare SDK's streamed reply, joined."""
    model = clients.CHAT_MODELS[provider]
    if provider == "anthropic":
        send = client.messages.create

        def anthropic_call() -> str:
            events = send(
                model=model,
                system=clients.SYSTEM,
                messages=clients.MESSAGES[1:],
                max_tokens=clients.ANTHROPIC_MAX_TOKENS,
                stream=True,
            )
            texts = [
                e.delta.text
                for e in events
                if e.type == "content_block_delta" and e.delta.type == "text_delta"
            ]
            return "".join(texts)

        return anthropic_call
    create = client.chat.completions.create

    def openai_call() -> str:
        chunks = create(
            model=model,
            messages=clients.MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    return openai_call


def container_stream() -> clients.ChatCall:
    """``get_chat_client().stream(...)``, joined."""
    from persona_llm.facades import get_chat_client

    return lambda: "".join(chunk.delta for chunk in get_chat_client().stream(clients.MESSAGES))


def run_provider(server: BenchServer, provider: str, rounds: int) -> Row:
    raw_client = clients.raw_client(provider, server.root)
    clients.point_container_at(provider, server.root)
    calls = {"raw": raw_stream(provider, raw_client), "container": container_stream()}
    texts = {name: call() for name, call in calls.items()}
    identical = same_request(server, provider, calls) and len(set(texts.values())) == 1
    interleaved(calls, WARMUP)
    cpu: dict[str, list[float]] = {}
    times = interleaved(calls, rounds, cpu)
    cpu_ratio = sum(cpu["container"]) / sum(cpu["raw"])
    raw, ours = median(times["raw"]), median(times["container"])
    note = f"200 chunks; median of {rounds} replies each" + (
        "" if identical else "; REQUESTS OR TEXTS DIFFER"
    )
    return ratio_row(
        f"stream() whole reply, {provider}, get_chat_client()",
        ours,
        raw,
        "µs",
        limit=TARGET,
        note=f"{note}; {ours - raw:+.0f} µs; CPU {cpu_ratio:.3f}x",
        group="2. streaming",
    )


def run(quick: bool = False) -> list[Row]:
    rounds = 100 if quick else 400
    with bench_server(latency=0.0) as server:
        return [run_provider(server, provider, rounds) for provider in PROVIDERS]


if __name__ == "__main__":
    main_for(run, __doc__ or "")
