"""The blocking twins are generated from their asyncio source, and stay so.

`scripts/unasync.py` writes each ``# unasync: generated`` region from its ``# unasync: source``
region (docs/contributing-twins.md). A blocking twin edited by hand, or an asyncio source
changed without running the script, fails `test_every_generated_twin_is_current`.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.features import streaming, structured, tools
from persona_llm.reliability import wrapper
from persona_llm.reliability.failover import FailoverAdapter
from persona_llm.reliability.retry import RetryingAdapter
from persona_llm.reliability.wrapper import AdapterWrapper
from persona_llm.usage.observed import ObservedAdapter
from persona_llm.workflows import embeddings, graph
from persona_llm.workflows.aio import embeddings as aio_embeddings
from persona_llm.workflows.aio import graph as aio_graph

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("unasync", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


unasync = _load_script()


def test_every_generated_twin_is_current() -> None:
    diffs = unasync.stale()
    assert not diffs, "stale blocking twins; run python scripts/unasync.py:\n" + "\n".join(
        diffs.values()
    )


def test_the_generated_regions_are_where_the_twins_are() -> None:
    generated = unasync.generate()
    assert ROOT / "persona_llm" / "clients.py" in generated


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "        return await self.adapter.achat(self.model, request)\n",
            "        return self.adapter.chat(self.model, request)\n",
        ),
        (
            "    async def chat(self) -> AsyncIterator[ChatChunk]:",
            "    def chat(self) -> Iterator[ChatChunk]:",
        ),
        (
            '"""Asyncio chat client over asyncio clients."""',
            '"""Blocking chat client over blocking clients."""',
        ),
        ("await asyncio.sleep(1)  # asyncio.", "asyncio.sleep(1)  # asyncio."),
        ("x = achat_later + _achat + self.achat", "x = achat_later + _achat + self.chat"),
    ],
)
def test_a_line_of_asyncio_source_becomes_its_blocking_twin(line: str, expected: str) -> None:
    assert unasync.unasync_line(line) == expected


def _package(tmp_path: Path, generated_body: str) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(
        "# unasync: source twin\n"
        "async def afetch(client: Any) -> int:\n"
        "    return await client.achat()\n"
        "\n"
        "\n"
        "# unasync: end\n"
        "# unasync: generated twin (do not edit: scripts/unasync.py writes it)\n"
        f"{generated_body}"
        "# unasync: end\n"
    )
    return package


def test_a_hand_edited_twin_is_reported_with_its_diff(tmp_path: Path) -> None:
    package = _package(tmp_path, "def afetch(client: Any) -> int:\n    return client.chat() + 1\n")

    diffs = unasync.stale(package, every_rule=False)

    (diff,) = diffs.values()
    assert "-    return client.chat() + 1" in diff
    assert "+    return client.chat()" in diff


def test_a_current_twin_is_not_reported(tmp_path: Path) -> None:
    package = _package(tmp_path, "def afetch(client: Any) -> int:\n    return client.chat()\n\n\n")
    assert unasync.stale(package, every_rule=False) == {}


def test_a_generated_region_without_source_is_an_error(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("# unasync: generated nowhere\n# unasync: end\n")
    with pytest.raises(unasync.UnasyncError, match="no asyncio source region named 'nowhere'"):
        unasync.generate(package, every_rule=False)


def _parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


ADAPTERS = [ObservedAdapter, RetryingAdapter, FailoverAdapter, AdapterWrapper]
WORKFLOWS = [
    "get_nodes",
    "get_relationships",
    "generate_response_with_context",
    "detect_communities",
    "generate_structured_insights",
]
TWINS: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
    (ChatClient.chat, AsyncChatClient.chat),
    (ChatClient.stream, AsyncChatClient.stream),
    (EmbeddingClient.embeddings, AsyncEmbeddingClient.embeddings),
    *[
        (getattr(adapter, name), getattr(adapter, "a" + name))
        for adapter in ADAPTERS
        for name in ("chat", "stream", "embeddings", "close")
    ],
    *[(getattr(graph, name), getattr(aio_graph, name)) for name in WORKFLOWS],
    (embeddings.generate_embeddings, aio_embeddings.generate_embeddings),
    (structured.complete, structured.acomplete),
    (structured.chat_validated, structured.achat_validated),
    (tools.run_tools, tools.arun_tools),
    (streaming.collect_stream, streaming.acollect_stream),
    (wrapper.first_visible, wrapper.afirst_visible),
    (wrapper.failing_iterator, wrapper.failing_async_iterator),
]


@pytest.mark.parametrize(("blocking", "asyncio"), TWINS, ids=lambda f: f.__qualname__)
def test_twins_take_the_same_arguments_and_say_the_same(
    blocking: Callable[..., Any], asyncio: Callable[..., Any]
) -> None:
    assert _parameters(blocking) == _parameters(asyncio)
    assert blocking.__doc__ == unasync.unasync_line(asyncio.__doc__ or "")
