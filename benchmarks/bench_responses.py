"""Figure 2b: the OpenAI Responses transport against the raw SDK's ``responses.create``.

The per-call figure of `bench_overhead`, on ``/v1/responses`` (``OPENAI_API=responses``):
blocking ``chat()`` against ``client.responses.create(model, input, store=False)``, and a
whole streamed reply, ``"".join(chunk.delta for chunk in stream())`` against iterating
``responses.create(..., stream=True)`` and joining the ``response.output_text.delta`` events
(8 text deltas, then ``response.completed``). Zero latency, one process, variants interleaved
call by call in a rotating order, medians; the request is checked identical on the wire first.
Target: ≤ 0.97, as for Chat Completions (issue 16: the same target; issue 20 set it to 0.97).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import BenchServer, Row, bench_server, main_for, median, ratio_row
from benchmarks.bench_overhead import WARMUP, interleaved

TARGET = 0.97
MODEL = clients.CHAT_MODELS["openai"]


def raw_calls(client: Any) -> tuple[Callable[[], str], Callable[[], str]]:
    """The bare SDK's blocking and streamed Responses calls, each returning the text."""
    create = client.responses.create

    def blocking() -> str:
        return str(create(model=MODEL, input=clients.MESSAGES, store=False).output_text)

    def streamed() -> str:
        pieces = []
        with create(model=MODEL, input=clients.MESSAGES, store=False, stream=True) as events:
            for event in events:
                if event.type == "response.output_text.delta":
                    pieces.append(event.delta)
        return "".join(pieces)

    return blocking, streamed


def our_calls(client: Any) -> tuple[Callable[[], str], Callable[[], str]]:
    """persona-llm's ``chat()`` and ``stream()`` on a client, each returning the text."""
    return (
        lambda: client.chat(clients.MESSAGES).content,
        lambda: "".join(chunk.delta for chunk in client.stream(clients.MESSAGES)),
    )


def _same_request(server: BenchServer, calls: dict[str, Callable[[], str]]) -> bool:
    seen = []
    for call in calls.values():
        call()
        last = server.last_request("openai-responses") or {}
        seen.append(last.get("body"))
    bodies = [json.loads(body or "null") for body in seen]
    return all(body == bodies[0] for body in bodies)


def _rows(times: dict[str, list[float]], what: str, rounds: int, identical: bool) -> list[Row]:
    raw = median(times["raw"])
    note = f"median of {rounds} calls each" + ("" if identical else "; REQUESTS DIFFER")
    rows = []
    for variant, label in (("container", "get_chat_client()"), ("direct", "ChatClient")):
        ours = median(times[variant])
        row = ratio_row(
            f"{what}, openai Responses, {label}",
            ours,
            raw,
            "µs",
            limit=TARGET,
            note=f"{note}; +{ours - raw:.0f} µs",
            group="2. per-call overhead",
        )
        row.extra = {"identical_request": identical}
        rows.append(row)
    return rows


def run(quick: bool = False) -> list[Row]:
    """Blocking and streamed Responses calls, zero latency."""
    from persona_llm.clients import ChatClient
    from persona_llm.facades import get_chat_client, reset_clients
    from persona_llm.providers import build_adapter

    rounds = 300 if quick else 1200
    rows: list[Row] = []
    with bench_server(latency=0.0) as server:
        raw_blocking, raw_streamed = raw_calls(clients.raw_client("openai", server.root))
        clients.point_container_at("openai", server.root)
        os.environ["OPENAI_API"] = "responses"
        reset_clients()
        config = clients.provider_config("openai", server.root)
        direct = ChatClient(build_adapter(dataclasses.replace(config, api="responses")), MODEL)
        container_blocking = lambda: get_chat_client().chat(clients.MESSAGES).content  # noqa: E731
        container_streamed = lambda: "".join(  # noqa: E731
            chunk.delta for chunk in get_chat_client().stream(clients.MESSAGES)
        )
        direct_blocking, direct_streamed = our_calls(direct)
        for what, calls in (
            (
                "chat() per call",
                {"raw": raw_blocking, "container": container_blocking, "direct": direct_blocking},
            ),
            (
                "stream() whole reply",
                {"raw": raw_streamed, "container": container_streamed, "direct": direct_streamed},
            ),
        ):
            identical = _same_request(server, calls)
            interleaved(calls, WARMUP)
            rows += _rows(interleaved(calls, rounds), what, rounds, identical)
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
