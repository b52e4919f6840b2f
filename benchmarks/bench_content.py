"""Figure 6: content parts. What an image or a PDF costs on top of the raw SDK.

* **1 MB image, per call**: ``get_chat_client().chat()`` with ``ImagePart.from_bytes(data)``
  (built in the call: media sniffing, validation, the check of the provider's limits, the
  one base64 encoding, the mapping) against the raw SDK call a user writes for the same
  request, base64 encoding included (the bytes must be encoded by someone). Same body on
  the wire (checked); zero latency; interleaved; median. Reported: the time per call of
  each, and our added CPU per call in µs.
* **20 MB PDF, peak memory**: `tracemalloc` peak during one blocking call, over what was
  allocated before it (the PDF's bytes already in memory, as after reading the file), for
  ours and for the raw SDK sending the same body. Target: ours ≤ 3x the file size (the
  base64 text is 1.33x; the SDK's JSON body, as text and as bytes, is the rest).

The plain-text per-call figure is figure 2 (``bench_overhead``); ``diagnose_cpu`` shows our
own CPU per layer. Both are unchanged by content parts: a str content takes the old path.
"""

from __future__ import annotations

import base64
import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import Row, bench_server, main_for, median, ratio_row

IMAGE_SIZE = 1024 * 1024
PDF_SIZE = 20 * 1024 * 1024
PROVIDERS = ("openai", "anthropic", "gemini")
QUESTION = "What is on this image?"


def _image() -> bytes:
    from persona_llm.testing import media

    png = media.png(64, 64)
    return png + bytes(range(256)) * ((IMAGE_SIZE - len(png)) // 256)


def _pdf() -> bytes:
    from persona_llm.testing import media

    return media.pdf(padding=PDF_SIZE - 700)


def ours(data: bytes, kind: str) -> Callable[[], str]:
    """``get_chat_client().chat()`` with the part built from the bytes in the call."""
    from persona_llm import DocumentPart, ImagePart, get_chat_client

    def call() -> str:
        part = ImagePart.from_bytes(data) if kind == "image" else DocumentPart.from_bytes(data)
        content = [QUESTION, part]
        return get_chat_client().chat([{"role": "user", "content": content}]).content

    return call


def raw(provider: str, client: Any, data: bytes, media_type: str) -> Callable[[], str]:
    """The bare SDK call a user writes for the same request (encoding included)."""
    model = clients.CHAT_MODELS[provider]
    if provider == "openai":
        create = client.chat.completions.create

        def openai_call() -> str:
            url = f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")
            if media_type.startswith("image/"):
                part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
            else:
                part = {"type": "file", "file": {"filename": "document.pdf", "file_data": url}}
            text = {"type": "text", "text": QUESTION}
            messages = [{"role": "user", "content": [text, part]}]
            return str(create(model=model, messages=messages).choices[0].message.content)

        return openai_call
    if provider == "anthropic":
        send = client.messages.create

        def anthropic_call() -> str:
            kind = "image" if media_type.startswith("image/") else "document"
            source = {"type": "base64", "media_type": media_type, "data": ""}
            source["data"] = base64.b64encode(data).decode("ascii")
            content = [{"type": "text", "text": QUESTION}, {"type": kind, "source": source}]
            reply = send(
                model=model,
                messages=[{"role": "user", "content": content}],
                max_tokens=clients.ANTHROPIC_MAX_TOKENS,
            )
            return str(reply.content[0].text)

        return anthropic_call
    from google.genai import types

    def gemini_call() -> str:
        parts = [types.Part(text=QUESTION), types.Part.from_bytes(data=data, mime_type=media_type)]
        content = types.Content(role="user", parts=parts)
        return str(client.models.generate_content(model=model, contents=content).text)

    return gemini_call


def _same_body(server: Any, provider: str, calls: dict[str, Callable[[], str]]) -> bool:
    bodies = []
    for call in calls.values():
        call()
        last = server.last_request(f"{provider}-chat") or {}
        bodies.append(json.loads(last.get("body") or "null"))
    return all(body == bodies[0] for body in bodies)


def image_rows(server: Any, provider: str, rounds: int) -> list[Row]:
    data = _image()
    raw_client = clients.raw_client(provider, server.root)
    clients.point_container_at(provider, server.root)
    calls = {"raw": raw(provider, raw_client, data, "image/png"), "ours": ours(data, "image")}
    identical = _same_body(server, provider, calls)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for index in range(rounds + 5):
        order = list(calls) if index % 2 else list(reversed(calls))
        for name in order:
            start = time.perf_counter_ns()
            calls[name]()
            if index >= 5:  # warm-up rounds are not counted
                times[name].append((time.perf_counter_ns() - start) / 1000)
    mine, theirs = median(times["ours"]), median(times["raw"])
    note = f"median of {rounds}; +{mine - theirs:,.0f} µs per call" + (
        "" if identical else "; REQUESTS DIFFER"
    )
    return [
        ratio_row(
            f"chat() with a 1 MB image, {provider}",
            mine,
            theirs,
            "µs",
            note=note,
            group="6. content parts",
        )
    ]


def _peak(call: Callable[[], str]) -> float:
    """Peak traced MiB during `call`, over what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 2**20


def pdf_rows(server: Any, provider: str) -> list[Row]:
    data = _pdf()
    raw_client = clients.raw_client(provider, server.root)
    clients.point_container_at(provider, server.root)
    mine_call = ours(data, "document")
    raw_call = raw(provider, raw_client, data, "application/pdf")
    mine_call(), raw_call()  # warm: imports and pools are not the payload's
    mine, theirs = _peak(mine_call), _peak(raw_call)
    size = len(data) / 2**20
    row = ratio_row(
        f"peak memory of chat() with a 20 MB PDF, {provider}",
        mine,
        theirs,
        "MiB",
        note=f"ours {mine / size:.2f}x the file size (target ≤ 3x), raw {theirs / size:.2f}x",
        group="6. content parts",
    )
    row.target, row.met = "≤ 3x file size", mine <= 3 * size
    return [row]


def run(quick: bool = False) -> list[Row]:
    """Image per-call CPU and PDF peak memory, per provider."""
    rounds = 30 if quick else 100
    rows: list[Row] = []
    with bench_server(latency=0.0) as server:
        for provider in PROVIDERS:
            rows += image_rows(server, provider, rounds)
        for provider in ("openai", "anthropic"):  # 20 MB is over Gemini's inline limit
            rows += pdf_rows(server, provider)
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
