"""``persona-llm demo``: the end-to-end Persona example, on whatever provider is configured.

With no provider configured (the chosen provider's key is missing) it runs offline on the fake
provider, scripted with realistic replies, and says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TextIO

from dependency_injector import providers as di

from persona_llm.errors import ConfigurationError
from persona_llm.providers.fake import FakeProvider
from persona_llm.settings import Settings
from persona_llm.types import ChatMessage

__all__ = ["demo_replies", "run_demo"]

logger = logging.getLogger(__name__)

JOURNAL = (
    "I moved to Lisbon in March to work on my climbing. Ana, my sister, visits every summer; "
    "I want to run the Lisbon half marathon next year, and I still prefer tea to coffee."
)
QUESTION = "What goals does the writer have?"


def demo_replies(messages: Sequence[ChatMessage]) -> str:
    """Scripted replies for the offline demo, chosen by the workflow's system prompt."""
    from persona_llm.workflows import prompts

    system = messages[0].content if messages and messages[0].role == "system" else ""
    if system == prompts.NODES_PROMPT:
        return json.dumps(
            {
                "nodes": [
                    {"name": "Lives in Lisbon", "type": "State", "properties": {"since": "March"}},
                    {"name": "Climbing", "type": "Preference"},
                    {"name": "Ana", "type": "Relationship", "properties": {"relation": "sister"}},
                    {"name": "Run the Lisbon half marathon", "type": "Goal"},
                    {"name": "Prefers tea to coffee", "type": "Preference"},
                ]
            }
        )
    if system == prompts.RELATIONSHIPS_PROMPT:
        return json.dumps(
            {
                "relationships": [
                    {"source_id": "Node1", "relation": "MOTIVATES", "target_id": "Node2"},
                    {"source_id": "Node3", "relation": "VISITS", "target_id": "Node1"},
                    {"source_id": "Node4", "relation": "TAKES_PLACE_IN", "target_id": "Node1"},
                ]
            }
        )
    return (
        "The writer wants to run the Lisbon half marathon next year, and moved to Lisbon in "
        "March to work on their climbing."
    )


def _offline_settings(settings: Settings, out: TextIO) -> Settings | None:
    """Settings that run the demo on the scripted fake provider, or None to use `settings`.

    Offline means: the fake provider is selected (it has no model to answer, so it is
    scripted), or the selected provider has no key.
    """
    target = settings.chat_target
    if target.provider == "fake":
        out.write("LLM_SERVICE names the fake provider: scripted replies, offline.\n\n")
        model = target.model or "offline-demo"
    else:
        try:
            settings.provider_config(target.provider)
            settings.provider_config(settings.embedding_target.provider)
            return None
        except ConfigurationError as exc:
            out.write(f"No provider configured ({exc.message.split(':')[0]}).\n")
            out.write("Running offline on the fake provider with scripted replies.\n\n")
            model = "offline-demo"
    service = f"fake/{model}"
    # Routes, pools and fallbacks name providers without keys too: offline, everything is fake.
    return settings.model_copy(
        update={
            "llm_service": service,
            "embedding_service": service,
            "llm_routes": "",
            "llm_pool": "",
            "llm_fallbacks": "",
        }
    )


def run_demo(out: TextIO, *, service: str | None = None) -> int:
    """Run the demo and print what each step produced; returns the exit status.

    Goes through the container like an application does (retries, usage tracking); offline,
    the container's fake provider is replaced by a scripted one for the run.
    """
    from persona_llm.containers import container

    settings: Settings = container.settings()
    if service:
        settings = settings.model_copy(update={"llm_service": service})
    offline = _offline_settings(settings, out)
    scripted = FakeProvider(demo_replies, embedding_dimensions=16)
    container.reset_singletons()  # build the clients from these settings
    try:
        with ExitStack() as stack:
            stack.enter_context(container.settings.override(di.Object(offline or settings)))
            if offline is not None:
                stack.enter_context(container.fake.adapter.override(di.Object(scripted)))
            return _pipeline(out)
    finally:
        container.reset_singletons()


def _pipeline(out: TextIO) -> int:
    from persona_llm.usage.tracker import track_usage, usage_table

    with track_usage() as usage:
        _steps(out)
    out.write("\nUsage of this run:\n" + usage_table(usage.report()) + "\n")
    return 0


def _steps(out: TextIO) -> None:
    from persona_llm.facades import get_chat_client, get_embedding_client
    from persona_llm.workflows.embeddings import generate_embeddings
    from persona_llm.workflows.graph import (
        generate_response_with_context,
        get_nodes,
        get_relationships,
    )

    chat, embedder = get_chat_client(), get_embedding_client()
    out.write(
        f"Chat: {chat.provider}/{chat.model}   Embeddings: {embedder.provider}/{embedder.model}\n"
    )
    out.write(f"\nJournal entry:\n  {JOURNAL}\n\nNodes:\n")
    nodes = get_nodes(JOURNAL, graph_context="(empty graph)")
    for node in nodes:
        out.write(f"  - {node.name} [{node.type}]\n")
    relationships, _ = get_relationships(nodes, graph_context="(empty graph)")
    out.write("Relationships:\n")
    for rel in relationships:
        out.write(f"  - {rel.source} --{rel.relation}--> {rel.target}\n")
    vectors = generate_embeddings([node.name for node in nodes])
    out.write(
        f"Embeddings: {len(vectors)} vectors of {len(vectors[0]) if vectors else 0} dimensions\n"
    )
    context = "\n".join(f"{r.source} {r.relation} {r.target}" for r in relationships)
    answer = generate_response_with_context(QUESTION, context)
    out.write(f"\nQ: {QUESTION}\nA: {answer}\n\nAnswered by {chat.provider}/{chat.model}.\n")
