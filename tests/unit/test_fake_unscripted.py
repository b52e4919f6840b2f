"""The unscripted fake: schema-valid JSON from the schema, a plausible graph from the text.

Without a script the fake must run every documented example as written: a ``response_model``
or ``json_schema`` call gets an instance valid against the schema (deterministic per seed),
plain JSON mode a small object, and the Persona workflows a small graph named from the text.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from persona_llm.clients import ChatClient
from persona_llm.providers._fake_json import phrase_words, schema_instance
from persona_llm.providers.fake import FakeProvider
from persona_llm.testing import override_llm
from persona_llm.workflows import aio, graph
from persona_llm.workflows.embeddings import generate_embeddings

ASK = [{"role": "user", "content": "Tell me about Ada Lovelace and her first program."}]
TEXT = "I moved to Lisbon in March to work on my climbing. My sister Ana visits every summer."


class Address(BaseModel):
    city: str
    postcode: str | None = None


class Person(BaseModel):
    name: str = Field(min_length=3, max_length=40)
    age: int = Field(ge=18, le=99)
    score: float = Field(gt=0, lt=1)
    role: Literal["author", "engineer"]
    tags: list[str] = Field(min_length=1, max_length=4)
    home: Address
    friends: list[Address] = []
    active: bool


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "when": {"type": "string", "format": "date-time"},
            "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
            "count": {"type": "integer", "exclusiveMinimum": 100, "multipleOf": 5},
            "ratio": {"type": ["number", "null"], "maximum": -3},
            "kind": {"const": "fixed"},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            "set": {"type": "array", "items": {"enum": [1, 2, 3]}, "uniqueItems": True},
            "none": {"type": "array", "maxItems": 0},
            "either": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
            "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}]},
        },
        "required": ["id", "when", "code", "count", "ratio", "kind", "pair", "set"],
    },
    {
        "$defs": {"node": {"type": "object", "properties": {"label": {"type": "string"}}}},
        "type": "object",
        "properties": {"nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["nodes"],
        "additionalProperties": False,
    },
]


def test_a_response_model_gets_a_valid_instance_without_a_script() -> None:
    client = ChatClient(FakeProvider(), "m")
    person = client.chat(ASK, response_model=Person, max_reasks=0).parsed
    assert isinstance(person, Person)
    assert len(client.adapter.calls) == 1  # type: ignore[attr-defined]  # valid first time


@pytest.mark.parametrize("schema", SCHEMAS, ids=["keywords", "refs"])
def test_json_schema_replies_validate_for_many_seeds(schema: dict[str, Any]) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    for seed in range(40):
        client = ChatClient(FakeProvider(seed=seed), "m")
        reply = client.chat(ASK, response_format=response_format, max_reasks=0)
        jsonschema.validate(reply.parsed, schema)


def test_replies_are_deterministic_per_seed() -> None:
    def person(seed: int) -> Person:
        client = ChatClient(FakeProvider(seed=seed), "m")
        parsed: Person = client.chat(ASK, response_model=Person).parsed
        return parsed

    assert person(1) == person(1)
    assert len({person(seed).model_dump_json() for seed in range(8)}) > 1


def test_strings_are_phrases_of_the_request_text() -> None:
    assert phrase_words("Known:\nnothing\n\nText:\n" + TEXT) == [
        "Moved Lisbon March",
        "Sister Ana visits",
    ]
    value = schema_instance({"type": "string"}, random.Random(0), ["Only phrase"])
    assert value == "Only phrase"


def test_plain_json_mode_gets_a_small_object() -> None:
    reply = ChatClient(FakeProvider(), "m").chat(ASK, response_format={"type": "json_object"})
    assert reply.parsed == {"echo": ASK[0]["content"]}


def test_a_scripted_fake_still_answers_its_script_in_json_schema_mode() -> None:
    client = ChatClient(FakeProvider([{"name": "Ada"}], strict_json=False), "m")
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert client.chat(ASK, response_format=response_format).parsed == {"name": "Ada"}


def test_the_workflows_build_a_small_graph_from_the_text_unscripted() -> None:
    with override_llm() as fake:
        nodes = graph.get_nodes(TEXT, "(empty graph)")
        relationships, ids = graph.get_relationships(nodes, "(empty graph)")
        vectors = generate_embeddings([node.name for node in nodes])
        structure = graph.detect_communities("subgraph 1: Lisbon\nsubgraph 2: Ana")
        insights = graph.generate_structured_insights(
            "How settled am I?", "Lisbon since March", {"summary": "...", "points": ["..."]}
        )
    assert 2 <= len(nodes) <= 3
    words = set(" ".join(phrase_words(TEXT)).split())
    assert all(set(node.name.split()) <= words for node in nodes)  # named from the text
    assert relationships and all(r.source_id in ids and r.target_id in ids for r in relationships)
    assert all(r.source_id != r.target_id for r in relationships)
    assert all(r.relation == r.relation.upper() and " " not in r.relation for r in relationships)
    assert len(vectors) == len(nodes)
    assert structure.communityHeaders and structure.communityHeaders[0].subheaders
    assert set(insights) == {"summary", "points"} and isinstance(insights["points"], list)
    assert all(not call.request or len(call.request.messages) == 2 for call in fake.calls)


def test_the_asyncio_workflows_match_the_blocking_ones_unscripted() -> None:
    with override_llm():
        blocking = graph.get_nodes(TEXT, "(empty graph)")
        awaited = asyncio.run(aio.get_nodes(TEXT, "(empty graph)"))
    assert awaited == blocking
