"""Figure 4: embeddings throughput, 10,000 texts.

``get_embedding_client().embeddings(texts, dimensions=D)`` (which batches by itself: 2048
texts a request on OpenAI/Azure, 100 on Gemini) against the raw SDK with the same batches
written by hand, the same ``dimensions`` and the SDK's default transfer (base64 float32 on
OpenAI/Azure, JSON floats on Gemini). Zero latency; rounds alternate; median wall time.
Anthropic has no embeddings API and is not measured.
"""

from __future__ import annotations

import time

from benchmarks import _clients as clients
from benchmarks._common import Row, bench_server, main_for, median, ratio_row

TEXTS = 10_000
DIMENSIONS = 256
TARGET = 1.05


def provider_rows(provider: str, root: str, rounds: int, texts: list[str]) -> list[Row]:
    """Throughput of ours against raw for one provider."""
    from persona_llm.facades import get_embedding_client

    clients.point_container_at(provider, root, embeddings=True)
    raw = clients.raw_embed(provider, clients.raw_client(provider, root), DIMENSIONS)

    def ours(batch: list[str]) -> list[list[float]]:
        return get_embedding_client().embeddings(batch, dimensions=DIMENSIONS)

    calls = {"raw": raw, "ours": ours}
    times: dict[str, list[float]] = {"raw": [], "ours": []}
    for index in range(rounds + 1):  # round 0 warms up and is not counted
        for name in ["raw", "ours"] if index % 2 else ["ours", "raw"]:
            start = time.perf_counter()
            vectors = calls[name](texts)
            elapsed = time.perf_counter() - start
            if len(vectors) != len(texts) or len(vectors[-1]) != DIMENSIONS:
                raise RuntimeError(f"{name} {provider}: wrong embeddings shape")
            if index:
                times[name].append(elapsed)
    ours_rate = len(texts) / median(times["ours"])
    raw_rate = len(texts) / median(times["raw"])
    # A throughput ratio is inverted so that, like every other row, above 1 means slower.
    row = ratio_row(
        f"embeddings(): {len(texts):,} texts, {provider}",
        median(times["ours"]),
        median(times["raw"]),
        "s",
        limit=TARGET,
        note=(
            f"{ours_rate:,.0f} vs {raw_rate:,.0f} texts/s; {DIMENSIONS} dimensions; "
            f"median of {rounds} rounds"
        ),
        group="4. embeddings",
    )
    row.target = f"≤ {TARGET:.2f}x (ours)"
    return [row]


def run(quick: bool = False) -> list[Row]:
    """Every provider with an embeddings API, zero latency."""
    texts = [f"text number {i}: the quick brown fox jumps over the lazy dog" for i in range(TEXTS)]
    rows: list[Row] = []
    with bench_server(latency=0.0) as server:
        for provider in clients.EMBEDDING_PROVIDERS:
            rows += provider_rows(provider, server.root, 2 if quick else 5, texts)
    return rows


if __name__ == "__main__":
    main_for(run, __doc__ or "")
