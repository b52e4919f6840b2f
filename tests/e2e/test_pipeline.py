"""End to end: text → nodes → relationships → embeddings → retrieval → grounded answer.

The workflows take their clients from the container, exactly as an application does. The
`backend` fixture decides what is behind the container: the fake provider answering through
`persona_reply`, a stand-in model that recognises each task by its system prompt, or one of
the real adapters, its SDK talking HTTP to the provider emulator, which answers every chat
request with `persona_reply` in that provider's wire shape (`serve_persona`). To add a
backend, add a builder to `BACKENDS` that returns the four clients.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import container
from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.providers.fake import FakeProvider
from persona_llm.testing import wire
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, RecordedRequest, Reply
from persona_llm.types import ChatMessage
from persona_llm.workflows import aio
from persona_llm.workflows.embeddings import generate_embeddings
from persona_llm.workflows.graph import (
    Node,
    Relationship,
    generate_response_with_context,
    get_nodes,
    get_relationships,
)
from persona_llm.workflows.prompts import NODES_PROMPT, RAG_ANSWER_PROMPT, RELATIONSHIPS_PROMPT

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
    system, user = messages[0].text, messages[-1].text
    answers: dict[str, Callable[[str], str]] = {
        NODES_PROMPT: _nodes_answer,
        RELATIONSHIPS_PROMPT: _relationships_answer,
        RAG_ANSWER_PROMPT: _grounded_answer,
    }
    return answers[system](user)


# -- the stand-in model behind the provider emulator ------------------------------------------


def request_messages(provider: str, body: dict[str, Any]) -> list[ChatMessage]:
    """The conversation of a provider's chat request body, system prompt first."""
    if provider == "gemini":
        turns = [("system", body["systemInstruction"])] if "systemInstruction" in body else []
        turns += [(_GEMINI_ROLES[c["role"]], c) for c in body["contents"]]
        messages = [
            {"role": role, "content": "".join(part["text"] for part in content["parts"])}
            for role, content in turns
        ]
    else:  # OpenAI and Azure keep the system prompt in messages, Anthropic sends it apart
        system = [{"role": "system", "content": body["system"]}] if "system" in body else []
        messages = system + body["messages"]
    return [ChatMessage.model_validate(message) for message in messages]


_GEMINI_ROLES = {"user": "user", "model": "assistant"}


def provider_reply(provider: str, body: dict[str, Any], text: str) -> Reply:
    """`text` as the reply of `provider` to the request `body`."""
    if provider == "anthropic":
        forced = body.get("tool_choice")
        if forced:  # JSON mode is a forced tool: the answer is that tool's input
            call = {"type": "tool_use", "id": "toolu_01", "name": forced["name"]}
            call["input"] = json.loads(text)
            return Reply(wire.anthropic_message([call], stop_reason="tool_use"))
        return Reply(wire.anthropic_message(text))
    if provider == "gemini":
        return Reply(wire.gemini_response(text))
    return Reply(wire.openai_chat(text, azure=provider == "azure"))


def serve_persona(request: RecordedRequest) -> Reply | None:
    """Emulator reply callable: `persona_reply` to a chat request, in the provider's shape."""
    if request.kind == "embeddings":
        return None  # the emulator's default: a deterministic vector per text
    text = persona_reply(request_messages(request.provider, request.json))
    return provider_reply(request.provider, request.json, text)


# -- backends -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """The four clients the container serves during a test."""

    chat: ChatClient
    async_chat: AsyncChatClient
    embeddings: EmbeddingClient
    async_embeddings: AsyncEmbeddingClient

    async def aclose(self) -> None:
        """Close the adapters' SDK clients (the asyncio ones inside the running loop)."""
        clients = (self.chat, self.async_chat, self.embeddings, self.async_embeddings)
        adapters: dict[int, Any] = {id(c.adapter): c.adapter for c in clients}
        for adapter in adapters.values():
            if isinstance(adapter, FakeProvider):
                continue
            await adapter.aclose()
            adapter.close()
            adapter._client.close()  # the blocking SDK client: ours here, not a container's


def fake_backend(emu: ProviderEmulator) -> Backend:
    """The fake provider answering through `persona_reply` (no HTTP, so no emulator)."""
    fake = FakeProvider(persona_reply, strict_json=True)
    return Backend(
        ChatClient(fake, "fake-chat"),
        AsyncChatClient(fake, "fake-chat"),
        EmbeddingClient(fake, "fake-embedding"),
        AsyncEmbeddingClient(fake, "fake-embedding"),
    )


CHAT_MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "chat-prod",  # Azure models are deployment names
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
}
EMBEDDING_MODELS = {
    "openai": "text-embedding-3-small",
    "azure": "embed-prod",
    "gemini": "gemini-embedding-001",
}


def emulated_adapter(provider: str, emu: ProviderEmulator) -> ProviderAdapter:
    """The real adapter of `provider`, its SDK pointed at the emulator, without retries."""
    return build_adapter(emu.config_for(provider))


def emulated_backend(chat: str, embedding: str) -> Callable[[ProviderEmulator], Backend]:
    """A builder of the clients of real adapters against the emulator."""

    def build(emu: ProviderEmulator) -> Backend:
        chat_adapter = emulated_adapter(chat, emu)
        embedding_adapter = chat_adapter if embedding == chat else emulated_adapter(embedding, emu)
        return Backend(
            ChatClient(chat_adapter, CHAT_MODELS[chat]),
            AsyncChatClient(chat_adapter, CHAT_MODELS[chat]),
            EmbeddingClient(embedding_adapter, EMBEDDING_MODELS[embedding]),
            AsyncEmbeddingClient(embedding_adapter, EMBEDDING_MODELS[embedding]),
        )

    return build


BACKENDS: dict[str, Callable[[ProviderEmulator], Backend]] = {
    "fake": fake_backend,
    "openai": emulated_backend("openai", "openai"),
    "azure": emulated_backend("azure", "azure"),
    # Anthropic has no embeddings API; the library's documented fallback is OpenAI's.
    "anthropic": emulated_backend("anthropic", "openai"),
    "gemini": emulated_backend("gemini", "gemini"),
}

# The emulator's queue has no standing reply, so each test queues more than a run needs.
_REPLIES_PER_TEST = 50


@pytest.fixture(scope="module")
def emulator() -> Iterator[ProviderEmulator]:
    with ProviderEmulator() as emu:
        yield emu


@pytest.fixture(params=sorted(BACKENDS))
async def backend(
    request: pytest.FixtureRequest, emulator: ProviderEmulator
) -> AsyncIterator[Backend]:
    """Each backend in turn, installed in the default container."""
    emulator.reset()
    for name in PROVIDERS:
        emulator.enqueue(name, *[serve_persona] * _REPLIES_PER_TEST)
    built = BACKENDS[request.param](emulator)
    with ExitStack() as stack:
        for provider, client in (
            (container.chat_client, built.chat),
            (container.async_chat_client, built.async_chat),
            (container.embedding_client, built.embeddings),
            (container.async_embedding_client, built.async_embeddings),
        ):
            stack.enter_context(provider.override(providers.Object(client)))
        yield built
    await built.aclose()  # async: the asyncio SDK clients close inside the test's loop


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
