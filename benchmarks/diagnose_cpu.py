"""persona-llm's own CPU per ``chat()``, layer by layer, with no SDK and no HTTP.

    python -m benchmarks.diagnose_cpu

Every layer wraps a stub adapter that returns one prebuilt `ChatResponse`, so what is timed
is our code alone: message validation and the request (`ChatClient`), usage, cost and hooks
(`ObservedAdapter`), retries, and the facade. Best of 7 runs of 3,000 calls each. These
microseconds are a floor: inside a real call (after the SDK and the socket have pushed our
code out of the CPU caches) the same work costs two to three times as much, which is what
`diagnose_layers` shows.
"""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients

RUNS, CALLS = 7, 3000


def _layers() -> dict[str, Callable[[], Any]]:
    os.environ.update({"LLM_SERVICE": "openai/gpt-4o-mini", "OPENAI_API_KEY": clients.KEY})
    from persona_llm.clients import ChatClient
    from persona_llm.containers import Container
    from persona_llm.providers.base import ProviderAdapter
    from persona_llm.types import ChatRequest, ChatResponse, Usage

    reply = ChatResponse(
        content="Hello!",
        model="gpt-4o-mini",
        provider="openai",
        finish_reason="stop",
        usage=Usage(prompt_tokens=20, completion_tokens=5),
    )

    class Stub(ProviderAdapter):
        name = "openai"

        def chat(self, model: str, request: ChatRequest) -> ChatResponse:
            return reply

    stub = Stub()
    container = Container()
    container.openai.adapter.override(stub)
    observed = ChatClient(container.observe(inner=stub), "gpt-4o-mini")
    direct = ChatClient(stub, "gpt-4o-mini")
    client = container.chat_client()
    messages = clients.MESSAGES
    return {
        "ChatClient(stub): validation, request": lambda: direct.chat(messages),
        "+ ObservedAdapter: usage, cost, hooks": lambda: observed.chat(messages),
        "+ RetryingAdapter: container.chat_client()": lambda: client.chat(messages),
        "+ facade: container.router().chat_client()": lambda: (
            container.router().chat_client().chat(messages)
        ),
    }


def main() -> None:
    """Print the best-of-runs microseconds per call of each layer, cumulative."""
    layers = _layers()
    for call in layers.values():
        for _ in range(500):
            call()
    best = {
        name: min(timeit.repeat(call, number=CALLS, repeat=RUNS)) for name, call in layers.items()
    }
    previous = 0.0
    for name, seconds in best.items():
        micros = seconds / CALLS * 1e6
        print(f"{micros:7.2f} µs  (+{micros - previous:5.2f})  {name}")
        previous = micros


if __name__ == "__main__":
    main()
