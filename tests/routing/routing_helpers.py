"""Routing test helpers: a stand-in model for every workflow, and the workflows run once each.

`persona_answer` answers each workflow's task, recognised by its system prompt, the way a
model would; the routing tests put it behind fakes (one per provider) and behind the
provider emulator. `run_workflows` / `arun_workflows` call every workflow once through the
default container, as an application does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatMessage
from persona_llm.workflows import aio
from persona_llm.workflows.embeddings import generate_embeddings
from persona_llm.workflows.graph import (
    detect_communities,
    generate_response_with_context,
    generate_structured_insights,
    get_nodes,
    get_relationships,
)
from persona_llm.workflows.prompts import (
    COMMUNITIES_PROMPT,
    INSIGHTS_PROMPT,
    NODES_PROMPT,
    RAG_ANSWER_PROMPT,
    RELATIONSHIPS_PROMPT,
)

KEYS = {
    "openai_api_key": "sk-test-openai-key-0123456789",
    "anthropic_api_key": "sk-ant-test-key-0123456789",
    "gemini_api_key": "gemini-test-key-0123456789",
    "azure_api_key": "azure-test-key-0123456789",
    "azure_api_base": "https://example.invalid",
}
PROVIDERS = ("openai", "azure", "anthropic", "gemini")

TEXT = "I moved to Lisbon in 2019. My sister Ana visits every summer."
SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string"}},
    "required": ["summary"],
}

ANSWERS: dict[str, Callable[[str], Any]] = {
    NODES_PROMPT: lambda user: {
        "nodes": [
            {"name": "Moved to Lisbon", "type": "Event"},
            {"name": "Ana", "type": "Relationship"},
        ]
    },
    RELATIONSHIPS_PROMPT: lambda user: {
        "relationships": [
            {"source_id": "Node2", "relation": "VISITS", "target_id": "Node1"},
        ]
    },
    RAG_ANSWER_PROMPT: lambda user: "You moved to Lisbon in 2019.",
    COMMUNITIES_PROMPT: lambda user: {
        "communityHeaders": [
            {"header": "Home", "subheaders": [{"subheader": "Moves", "subgraph_ids": ["S1"]}]}
        ]
    },
    INSIGHTS_PROMPT: lambda user: {"summary": "settled in Lisbon"},
}
"""The stand-in model's answer to each workflow's system prompt (a dict is sent as JSON)."""


def persona_answer(messages: Sequence[ChatMessage]) -> Any:
    """Answer the workflow whose system prompt opens `messages`; anything else is echoed."""
    answer = ANSWERS.get(messages[0].text)
    return answer(messages[-1].text) if answer else messages[-1].text


def persona_text(messages: Sequence[ChatMessage]) -> str:
    """`persona_answer` as the text a provider sends."""
    answer = persona_answer(messages)
    return answer if isinstance(answer, str) else json.dumps(answer)


def run_workflows() -> dict[str, Any]:
    """Every blocking workflow once, through the default container; results by task."""
    nodes = get_nodes(TEXT, "")
    return {
        "extraction": nodes,
        "relationships": get_relationships(nodes, "")[0],
        "answer": generate_response_with_context("Where do I live?", TEXT),
        "communities": detect_communities("S1: Moved to Lisbon"),
        "insights": generate_structured_insights("Summarize", TEXT, SCHEMA),
        "embeddings": generate_embeddings(["Lisbon", "Ana"]),
    }


async def arun_workflows() -> dict[str, Any]:
    """Every asyncio workflow once; results by task."""
    nodes = await aio.graph.get_nodes(TEXT, "")
    return {
        "extraction": nodes,
        "relationships": (await aio.graph.get_relationships(nodes, ""))[0],
        "answer": await aio.graph.generate_response_with_context("Where do I live?", TEXT),
        "communities": await aio.graph.detect_communities("S1: Moved to Lisbon"),
        "insights": await aio.graph.generate_structured_insights("Summarize", TEXT, SCHEMA),
        "embeddings": await aio.embeddings.generate_embeddings(["Lisbon", "Ana"]),
    }


def check_results(results: dict[str, Any]) -> None:
    """The workflows' results are what the stand-in model answered."""
    assert [node.name for node in results["extraction"]] == ["Moved to Lisbon", "Ana"]
    assert [(r.source, r.relation, r.target) for r in results["relationships"]] == [
        ("Ana", "VISITS", "Moved to Lisbon")
    ]
    assert results["answer"] == "You moved to Lisbon in 2019."
    assert results["communities"].communityHeaders[0].header == "Home"
    assert results["insights"] == {"summary": "settled in Lisbon"}
    assert len(results["embeddings"]) == 2


def task_of(call: Any) -> str:
    """The workflow a recorded fake call served (``embeddings`` for vectors)."""
    if call.kind == "embeddings":
        return "embeddings"
    system = call.request.messages[0].text
    names = {
        NODES_PROMPT: "extraction",
        RELATIONSHIPS_PROMPT: "relationships",
        RAG_ANSWER_PROMPT: "answer",
        COMMUNITIES_PROMPT: "communities",
        INSIGHTS_PROMPT: "insights",
    }
    return names.get(system, re.sub(r"\s+", " ", system)[:20])


class Fakes:
    """One fake per provider behind the default container, answering as `persona_answer`."""

    def __init__(self) -> None:
        self.by_provider: dict[str, FakeProvider] = {}
        for name in PROVIDERS:
            fake = FakeProvider(persona_answer)
            fake.name = name
            self.by_provider[name] = fake

    def __getitem__(self, provider: str) -> FakeProvider:
        return self.by_provider[provider]

    def served(self) -> dict[str, tuple[str, str]]:
        """Which provider and model served each workflow task."""
        return {
            task_of(call): (name, call.model)
            for name, fake in self.by_provider.items()
            for call in fake.calls
        }
