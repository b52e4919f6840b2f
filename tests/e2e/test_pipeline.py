"""End to end: text → nodes → relationships → embeddings → retrieval → grounded answer.

The workflows take their clients from the container, exactly as an application does. The
`backend` fixture decides what is behind the container; today that is the fake provider
answering through `persona_reply`, a stand-in model that recognises each task by its system
prompt. To run the same pipeline through a real adapter, add a builder to `BACKENDS` that
returns the four clients of that adapter (e.g. pointed at the provider emulator serving
`persona_reply`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from dependency_injector import providers

from persona_llm import aio
from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import container
from persona_llm.embeddings import generate_embeddings
from persona_llm.graph import (
    Node,
    Relationship,
    generate_response_with_context,
    get_nodes,
    get_relationships,
)
from persona_llm.prompts import NODES_PROMPT, RAG_ANSWER_PROMPT, RELATIONSHIPS_PROMPT
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatMessage

JOURNAL = (
    "I moved to Lisbon in 2019 to work as a pastry chef. "
    "My sister Ana visits me every summer. "
    "I want to open my own bakery before I turn forty. "
    "I get anxious before big decisions."
)
QUESTION = "What do I want to do before forty?"

# -- the stand-in model ---------------------------------------------------------------------

_TYPES_BY_KEYWORD = (
    ("sister", "Relationship"),
    ("want", "Goal"),
    ("moved", "Event"),
    ("anxious", "Trait"),
)


def _nodes_answer(user: str) -> str:
    text = user.split("Text:\n", 1)[1]
    nodes = []
    for sentence in filter(None, (s.strip() for s in text.split("."))):
        kind = next((t for word, t in _TYPES_BY_KEYWORD if word in sentence.lower()), "Other")
        nodes.append({"name": sentence, "type": kind, "properties": {"source": "journal"}})
    return json.dumps({"nodes": nodes})


def _relationships_answer(user: str) -> str:
    ids = re.findall(r"^(Node\d+): ", user, flags=re.MULTILINE)
    relationships = [
        {"source_id": ids[0], "relation": "RELATED_TO", "target_id": other} for other in ids[1:]
    ]
    # A real model now and then cites an id it was never given; the workflow drops it.
    relationships.append({"source_id": ids[0], "relation": "KNOWS", "target_id": "Node99"})
    return json.dumps({"relationships": relationships})


def _grounded_answer(user: str) -> str:
    context, question = user.split("\n\nQuestion: ", 1)
    asked = set(re.findall(r"\w+", question.lower()))
    lines = [line for line in context.splitlines()[1:] if line.strip()]
    best = max(lines, key=lambda line: len(asked & set(re.findall(r"\w+", line.lower()))))
    return f"From what you have shared: {best.strip('- ')}."


def persona_reply(messages: Sequence[ChatMessage]) -> str:
    """Answer each workflow's task, recognised by its system prompt, like a model would."""
    system, user = messages[0].content, messages[-1].content
    answers: dict[str, Callable[[str], str]] = {
        NODES_PROMPT: _nodes_answer,
        RELATIONSHIPS_PROMPT: _relationships_answer,
        RAG_ANSWER_PROMPT: _grounded_answer,
    }
    return answers[system](user)


# -- backends -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """The four clients the container serves during a test."""

    chat: ChatClient
    async_chat: AsyncChatClient
    embeddings: EmbeddingClient
    async_embeddings: AsyncEmbeddingClient


def fake_backend() -> Backend:
    fake = FakeProvider(persona_reply, strict_json=True)
    return Backend(
        ChatClient(fake, "fake-chat"),
        AsyncChatClient(fake, "fake-chat"),
        EmbeddingClient(fake, "fake-embedding"),
        AsyncEmbeddingClient(fake, "fake-embedding"),
    )


BACKENDS: dict[str, Callable[[], Backend]] = {"fake": fake_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn, installed in the default container."""
    built = BACKENDS[request.param]()
    with ExitStack() as stack:
        for provider, client in (
            (container.chat_client, built.chat),
            (container.async_chat_client, built.async_chat),
            (container.embedding_client, built.embeddings),
            (container.async_embedding_client, built.async_embeddings),
        ):
            stack.enter_context(provider.override(providers.Object(client)))
        yield built


# -- retrieval, as an application would write it --------------------------------------------


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.hypot(*a) * math.hypot(*b))


def _context(
    nodes: list[Node],
    vectors: list[list[float]],
    query_vector: list[float],
    relationships: list[Relationship],
) -> str:
    ranked = sorted(
        zip(nodes, vectors, strict=True),
        key=lambda pair: _cosine(pair[1], query_vector),
        reverse=True,
    )
    lines = [f"- {node.name} ({node.type})" for node, _ in ranked]
    lines += [f"- {r.source} {r.relation} {r.target}" for r in relationships]
    return "\n".join(lines)


def _check(
    nodes: list[Node],
    relationships: list[Relationship],
    ids: dict[str, str],
    vectors: list[list[float]],
    answer: str,
) -> None:
    assert [node.type for node in nodes] == ["Event", "Relationship", "Goal", "Trait"]
    assert ids == {f"Node{i}": node.name for i, node in enumerate(nodes, start=1)}
    assert [(r.source_id, r.target_id) for r in relationships] == [
        ("Node1", "Node2"),
        ("Node1", "Node3"),
        ("Node1", "Node4"),
    ]
    assert len(vectors) == len(nodes) and len({len(v) for v in vectors}) == 1
    assert "open my own bakery before I turn forty" in answer


# -- the pipeline ---------------------------------------------------------------------------


def test_pipeline_blocking(backend: Backend) -> None:
    nodes = get_nodes(JOURNAL, graph_context="")
    relationships, ids = get_relationships(nodes, graph_context="")
    vectors = generate_embeddings([node.name for node in nodes])
    [query_vector] = generate_embeddings([QUESTION])
    context = _context(nodes, vectors, query_vector, relationships)
    answer = generate_response_with_context(QUESTION, context)
    _check(nodes, relationships, ids, vectors, answer)


async def test_pipeline_asyncio(backend: Backend) -> None:
    nodes = await aio.get_nodes(JOURNAL, graph_context="")
    relationships, ids = await aio.get_relationships(nodes, graph_context="")
    vectors = await aio.generate_embeddings([node.name for node in nodes])
    [query_vector] = await aio.generate_embeddings([QUESTION])
    context = _context(nodes, vectors, query_vector, relationships)
    answer = await aio.generate_response_with_context(QUESTION, context)
    _check(nodes, relationships, ids, vectors, answer)


def test_pipeline_with_explicit_clients(backend: Backend) -> None:
    # The same flow with clients passed in, as code that manages its own clients does.
    nodes = get_nodes(JOURNAL, "", client=backend.chat)
    relationships, ids = get_relationships(nodes, "", client=backend.chat)
    vectors = generate_embeddings([node.name for node in nodes], client=backend.embeddings)
    [query_vector] = generate_embeddings([QUESTION], client=backend.embeddings)
    context = _context(nodes, vectors, query_vector, relationships)
    answer = generate_response_with_context(QUESTION, context, client=backend.chat)
    _check(nodes, relationships, ids, vectors, answer)
