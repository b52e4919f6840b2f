"""Where the time of one ``chat()`` goes: persona-llm's own code against the SDK's.

    pip install pyinstrument
    python -m benchmarks.profile_call gemini                 # get_chat_client().chat()
    python -m benchmarks.profile_call openai --path direct   # ChatClient(build_adapter())
    python -m benchmarks.profile_call openai --what embeddings
    python -m benchmarks.profile_call anthropic --asyncio --latency 0.1   # 512 at once

Samples many calls against the benchmark server (zero latency) with pyinstrument, then
charges each sample to the nearest persona_llm function on its stack (``file:function``),
or to the SDK once the stack has entered the SDK (openai, anthropic, google-genai and their
HTTP stack). Third-party code called from our functions (pydantic, tenacity,
dependency-injector, the standard library) is charged to that function, tagged with the
package. The report lists µs per call and the share of the total.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchmarks import _clients as clients
from benchmarks._common import bench_server

_SDK_PACKAGES = frozenset(
    {"openai", "anthropic", "google", "httpx2", "httpcore2", "h11", "anyio", "sniffio", "idna"}
)


def _package(path: str | None) -> str:
    """``persona_llm``, ``benchmarks``, a site-packages top-level package, or ``stdlib``."""
    if not path:
        return "?"
    parts = path.replace(os.sep, "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for name in ("persona_llm", "benchmarks"):
        if name in parts:
            return name
    return "stdlib"


def _short(path: str, function: str) -> str:
    parts = path.replace(os.sep, "/").split("/")
    return "/".join(parts[parts.index("persona_llm") :]) + ":" + function


def attribute(root: Any) -> dict[str, float]:
    """Seconds of self time by owner (see the module docstring)."""
    totals: dict[str, float] = defaultdict(float)

    def walk(frame: Any, owner: str, in_sdk: bool) -> None:
        if frame.is_synthetic:  # pyinstrument's own entries: self time counts, waiting does not
            if frame.identifier == "[self]":
                totals[owner] += frame.time
            return
        package = _package(frame.file_path)
        if in_sdk or package in _SDK_PACKAGES:
            in_sdk, key = True, "SDK call (SDK, its HTTP stack and what they call)"
            owner = key
        elif package == "persona_llm":
            owner = key = _short(frame.file_path, frame.function)
        elif package == "benchmarks":
            owner = key = "benchmark harness"
        else:
            key = f"{owner}  [{package}]"
        totals[key] += frame.total_self_time
        for child in frame.children:
            walk(child, owner, in_sdk)

    walk(root, "benchmark harness", False)
    return totals


def _async_round(
    provider: str, root: str, path: str, extra_env: dict[str, str]
) -> Callable[[], Any]:
    """One round of `CONCURRENT` concurrent asyncio calls (run inside one event loop)."""
    from benchmarks.bench_concurrency import CONCURRENT

    clients.point_container_at(provider, root)
    os.environ.update(extra_env)
    if path == "raw":
        call = clients.raw_async_chat(
            provider, clients.raw_client(provider, root, asynchronous=True)
        )
    elif path == "direct":
        from persona_llm.clients import AsyncChatClient
        from persona_llm.providers import build_adapter

        adapter = build_adapter(clients.provider_config(provider, root))
        client = AsyncChatClient(adapter, clients.CHAT_MODELS[provider])

        async def call() -> str:
            return (await client.chat(clients.MESSAGES)).content
    else:
        call = clients.container_async_chat()

    async def round_() -> None:
        await asyncio.gather(*(call() for _ in range(CONCURRENT)))

    return round_


def _call(
    provider: str, root: str, path: str, what: str, extra_env: dict[str, str]
) -> Callable[[], Any]:
    if what == "embeddings":
        from persona_llm.facades import get_embedding_client

        clients.point_container_at(provider, root, embeddings=True)
        os.environ.update(extra_env)
        texts = [f"text {i}" for i in range(2048)]
        return lambda: get_embedding_client().embeddings(texts, dimensions=256)
    clients.point_container_at(provider, root)
    os.environ.update(extra_env)
    if path == "raw":
        return clients.raw_chat(provider, clients.raw_client(provider, root))
    if path == "direct":
        return clients.direct_chat(provider, root)[1]
    return clients.container_chat()


async def _profile_rounds(profiler: Any, round_: Callable[[], Any], rounds: int) -> None:
    await round_()  # warm-up: connections opened, clients built
    profiler.start()
    for _ in range(rounds):
        await round_()
    profiler.stop()


def main() -> None:
    """Command line: profile one provider's call and print the attribution."""
    from pyinstrument import Profiler

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("provider", choices=clients.PROVIDERS)
    parser.add_argument("--path", choices=("container", "direct", "raw"), default="container")
    parser.add_argument("--what", choices=("chat", "embeddings"), default="chat")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--asyncio", action="store_true", help="rounds of 512 concurrent calls")
    parser.add_argument("--latency", type=float, default=0.0, help="server latency, seconds")
    parser.add_argument("--tree", action="store_true", help="print pyinstrument's tree too")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the container, repeatable"
    )
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    calls = max(1, args.calls // (100 if args.what == "embeddings" else 1))
    # asyncio: sample the loop thread's real stack (CPU work), not time spent awaiting.
    profiler = Profiler(interval=0.0002, async_mode="disabled" if args.asyncio else "enabled")
    with bench_server(args.latency) as server:
        if args.asyncio:
            calls = max(1, args.calls // 512)
            asyncio.run(
                _profile_rounds(
                    profiler, _async_round(args.provider, server.root, args.path, extra_env), calls
                )
            )
        else:
            call = _call(args.provider, server.root, args.path, args.what, extra_env)
            for _ in range(max(1, calls // 10)):
                call()
            profiler.start()
            for _ in range(calls):
                call()
            profiler.stop()
    session_root = profiler.last_session.root_frame() if profiler.last_session else None
    if session_root is None:
        sys.exit("no samples")
    if args.tree:
        print(profiler.output_text(unicode=False, color=False))
    title = f"{args.provider} {args.what} via {args.path}"
    report(attribute(session_root), calls, title, "rounds" if args.asyncio else "calls")


def report(totals: dict[str, float], calls: int, title: str, unit: str = "calls") -> None:
    """Print the SDK's time, then ours by owner with its share of our own time."""
    sdk = sum(seconds for key, seconds in totals.items() if key.startswith("SDK call"))
    ours = {key: s for key, s in totals.items() if not key.startswith(("SDK call", "benchmark"))}
    own = sum(ours.values()) or 1e-12
    print(f"{title}: {calls} {unit} profiled (pyinstrument inflates every figure alike)")
    print(f"{sdk / calls * 1e6:9.1f} µs per {unit[:-1]} in the SDK call")
    print(f"{own / calls * 1e6:9.1f} µs per {unit[:-1]} in persona-llm's own code, of which:")
    modules: dict[str, float] = defaultdict(float)
    for key, seconds in ours.items():
        modules[key.split(":", 1)[0]] += seconds
    print("  by module:")
    for module, seconds in sorted(modules.items(), key=lambda item: -item[1]):
        if seconds / own >= 0.01:
            print(f"{seconds / calls * 1e6:9.1f} µs  {seconds / own:6.1%}  {module}")
    print("  by function (file:function [package it called]):")
    for key, seconds in sorted(ours.items(), key=lambda item: -item[1]):
        if seconds / own >= 0.01:
            print(f"{seconds / calls * 1e6:9.1f} µs  {seconds / own:6.1%}  {key}")


if __name__ == "__main__":
    main()
