"""``persona-llm demo``: the end-to-end Persona example, on whatever provider is configured.

With no provider configured (the chosen provider's key is missing) it runs offline on the fake
provider, scripted with realistic replies, and says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TextIO

from dependency_injector import providers as di

from persona_llm.errors import ConfigurationError
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatMessage

__all__ = ["demo_replies", "run_demo"]

logger = logging.getLogger(__name__)

JOURNAL = (
    "I moved to Lisbon in March to work on my climbing. Ana, my sister, visits every summer; "
    "I want to run the Lisbon half marathon next year, and I still prefer tea to coffee."
)
QUESTION = "What goals does the writer have?"


def demo_replies(messages: Sequence[ChatMessage]) -> str:
    """Scripted replies for the offline demo, chosen by what the system prompt asks for."""
    system = " ".join(m.content for m in messages if m.role == "system").lower()
    if "relationship" in system:
        return json.dumps(
            {
                "relationships": [
                    {"source_id": "Node1", "relation": "lives in", "target_id": "Node2"},
                    {"source_id": "Node3", "relation": "sister of", "target_id": "Node1"},
                    {"source_id": "Node1", "relation": "wants to run", "target_id": "Node4"},
                ]
            }
        )
    if "node" in system or "extract" in system:
        return json.dumps(
            {
                "nodes": [
                    {"name": "Writer", "type": "Identity"},
                    {"name": "Lisbon", "type": "Event", "properties": {"since": "March"}},
                    {"name": "Ana", "type": "Relationship", "properties": {"relation": "sister"}},
                    {"name": "Lisbon half marathon", "type": "Goal"},
                    {"name": "Prefers tea to coffee", "type": "Preference"},
                ]
            }
        )
    return (
        "The writer wants to run the Lisbon half marathon next year and is working on their "
        "climbing since moving to Lisbon."
    )


def _pick_service(service: str | None, out: TextIO) -> FakeProvider | None:
    """Use the configured provider, or explain and fall back to the scripted fake."""
    from persona_llm.containers import container
    from persona_llm.settings import load_settings

    settings = load_settings(**({"llm_service": service} if service else {}))
    if service:
        container.settings.override(di.Object(settings))
    target = settings.chat_target
    if target.provider == "fake":
        return None
    try:
        settings.provider_config(target.provider)
        settings.provider_config(settings.embedding_target.provider)
    except ConfigurationError as exc:
        out.write(f"No provider configured ({exc.message.split(':')[0]}).\n")
        out.write("Running offline on the fake provider with scripted replies.\n\n")
        return FakeProvider(demo_replies, embedding_dimensions=16)
    return None


def run_demo(out: TextIO, *, service: str | None = None) -> int:
    """Run the demo and print what each step produced; returns the exit status."""
    from persona_llm.testing import override_llm

    fake = _pick_service(service, out)
    if fake is not None:
        with override_llm(fake, model="offline-demo"):
            return _pipeline(out)
    return _pipeline(out)


def _pipeline(out: TextIO) -> int:
    from persona_llm.facades import get_chat_client, get_embedding_client

    client = get_chat_client()
    out.write(f"Chat: {client.provider}/{client.model}\n")
    reply = client.chat(
        [
            {"role": "system", "content": "Extract the nodes of a personal knowledge graph."},
            {"role": "user", "content": JOURNAL},
        ],
        response_format={"type": "json_object"},
    )
    out.write(f"Nodes (JSON mode): {reply.content}\n")
    embedder = get_embedding_client()
    vectors = embedder.embeddings([JOURNAL, QUESTION])
    out.write(f"Embeddings: {embedder.provider}/{embedder.model}, {len(vectors[0])} dimensions\n")
    answer = client.chat([{"role": "user", "content": f"{JOURNAL}\n\n{QUESTION}"}])
    out.write(f"Answer: {answer.content}\n")
    out.write(f"Answered by {answer.provider}/{answer.model}.\n")
    return 0
