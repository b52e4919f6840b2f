"""Where a Gemini call's time goes: the shape of ``contents``, and the SDK's conversions.

    python -m benchmarks.diagnose_gemini

The same one-turn (and three-turn) request sent with the bare google-genai client, passing
``contents`` in each shape the SDK accepts; same wire body every time. google-genai
validates its ``contents`` argument against a wide ``Union`` (``ContentListUnion``); a list
of ``types.Content`` *objects* is the slowest shape to validate. The last rows send the
same JSON body with the SDK's own transport (``client._api_client.request``) and parse the
reply with ``json.loads``, as ``GeminiAdapter`` does on its wire path
(`persona_llm.providers.gemini.wire`): what is left of a call once the SDK's request
conversion and response model are skipped. ``GeminiAdapter`` takes the public path with
one ``types.Content`` (one turn) or the dicts (several) when a call has SDK options.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import bench_server, median


def shapes(client: Any) -> dict[str, Callable[[], Any]]:
    """The request in each ``contents`` shape, keyed by a description."""
    from google.genai import types

    model = clients.CHAT_MODELS["gemini"]
    config = types.GenerateContentConfig(system_instruction=clients.SYSTEM)
    turns = [("user", "Hi"), ("model", "Hello"), ("user", clients.USER)]
    dicts = [{"role": role, "parts": [{"text": text}]} for role, text in turns]
    objects = [types.Content.model_validate(item) for item in dicts]
    generate = client.models.generate_content

    def send(contents: Any) -> Callable[[], Any]:
        return lambda: generate(model=model, contents=contents, config=config)

    api = client._api_client
    system = {"parts": [{"text": clients.SYSTEM}], "role": "user"}

    def wire(contents: list[dict[str, Any]]) -> Callable[[], Any]:
        def call() -> Any:
            body = {"contents": contents, "systemInstruction": system, "generationConfig": {}}
            return json.loads(api.request("post", f"models/{model}:generateContent", body).body)

        return call

    return {
        "1 turn: str (what a raw user writes)": send(clients.USER),
        "1 turn: types.Content": send(objects[2]),
        "1 turn: [dict]": send(dicts[2:]),
        "1 turn: [types.Content]": send(objects[2:]),
        "3 turns: [dict]": send(dicts),
        "3 turns: [types.Content]": send(objects),
        "1 turn: wire path, _api_client.request + json.loads (GeminiAdapter)": wire(dicts[2:]),
        "3 turns: wire path, _api_client.request + json.loads (GeminiAdapter)": wire(dicts),
    }


def main(rounds: int = 600) -> None:
    """Print the median wall time of each shape, interleaved."""
    with bench_server() as server:
        client = clients.raw_client("gemini", server.root)  # referenced: __del__ closes it
        calls = shapes(client)
        times: dict[str, list[float]] = {name: [] for name in calls}
        for index in range(rounds + 100):
            for name, call in calls.items():
                start = time.perf_counter_ns()
                call()
                if index >= 100:
                    times[name].append((time.perf_counter_ns() - start) / 1000)
    for name, values in times.items():
        print(f"{median(values):8.0f} µs  {name}")


if __name__ == "__main__":
    main()
