"""The Persona app's own call patterns, through `persona_llm.compat.persona` and the new names.

The app passes its own objects (a pydantic ``Node`` from another module, an ``AskRequest``
with ``.query`` and ``.output_schema``), writes output schemas as example objects, numbers its
subgraphs with integers and sorts them, awaits an asyncio client and catches ``ValueError`` on
bad configuration. Each test plays one of those call sites on the fake provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from persona_llm import ConfigurationError, ResponseParseError
from persona_llm.compat import persona
from persona_llm.providers.fake import FakeProvider
from persona_llm.testing import override_llm
from persona_llm.workflows import graph
from persona_llm.workflows.schemas import example_schema, is_json_schema


class AppNode(BaseModel):
    """The app's ``persona.models.schema.Node``: not ours, same attributes."""

    name: str
    type: str
    perspective: str | None = None


class AskRequest(BaseModel):
    """The app's ``AskRequest``: the query and an *example* of the wanted output."""

    query: str
    output_schema: dict[str, Any]


APP_EXAMPLE = {"summary": "...", "key_points": ["..."]}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with override_llm(FakeProvider([])) as installed:
        yield installed


# -- 1. integer community ids ---------------------------------------------------------------


def test_integer_subgraph_ids_come_back_as_integers_and_sort(fake: FakeProvider) -> None:
    subheaders = [
        {"subheader": "Bakery", "subgraph_ids": [3, 1]},
        {"subheader": "Team", "subgraph_ids": ["sg-2"]},
    ]
    fake.enqueue({"communityHeaders": [{"header": "Work", "subheaders": subheaders}]})
    structure = asyncio.run(persona.detect_communities("subgraph 1: ...\nsubgraph 3: ..."))
    bakery, team = structure.communityHeaders[0].subheaders
    assert sorted(bakery.subgraph_ids) == [1, 3]  # the app's GraphOps sorts them
    assert team.subgraph_ids == ["sg-2"]
    assert len(fake.calls) == 1  # accepted first time, not re-asked


# -- 2. the app's own node objects ----------------------------------------------------------


def test_relationships_between_the_apps_node_objects(fake: FakeProvider) -> None:
    fake.enqueue(
        {"relationships": [{"source_id": "Node1", "relation": "LIVES_IN", "target_id": "Node2"}]}
    )
    nodes = [AppNode(name="Sam", type="Identity"), AppNode(name="Lisbon", type="Place")]
    relationships, ids = asyncio.run(persona.get_relationships(nodes, "graph"))
    assert ids == {"Node1": "Sam", "Node2": "Lisbon"}
    assert [(r.source, r.relation, r.target) for r in relationships] == [
        ("Sam", "LIVES_IN", "Lisbon")
    ]
    assert "Node2: Lisbon [Place]" in fake.last_request.messages[1].content


def test_an_object_without_name_or_type_is_refused_before_a_call(fake: FakeProvider) -> None:
    from persona_llm import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=r"nodes\[1\].*\.name and \.type"):
        graph.get_relationships([AppNode(name="Sam", type="Identity"), object()], "")
    assert fake.calls == []


# -- 3. ask requests and example schemas ----------------------------------------------------


def test_insights_from_an_ask_request_with_an_example_schema(fake: FakeProvider) -> None:
    fake.enqueue({"summary": "Settled in Lisbon.", "key_points": ["moved in 2019"]})
    request = AskRequest(query="How settled am I?", output_schema=APP_EXAMPLE)
    result = asyncio.run(persona.generate_structured_insights(request, "Lisbon since 2019"))
    assert result == {"summary": "Settled in Lisbon.", "key_points": ["moved in 2019"]}
    user = fake.last_request.messages[1].content
    assert "a JSON object shaped like this example" in user
    assert "JSON Schema" not in user
    sent = fake.last_request.response_format
    assert sent is not None and sent["json_schema"]["schema"] == example_schema(APP_EXAMPLE)


def test_a_reply_not_shaped_like_the_example_is_reasked_then_an_error(fake: FakeProvider) -> None:
    fake.enqueue({"summary": "ok", "key_points": "one"}, {"summary": 3, "key_points": []})
    with pytest.raises(ResponseParseError) as info:
        graph.generate_structured_insights("Q?", "ctx", APP_EXAMPLE)
    assert "$.summary: 3 is not of type 'string'" in info.value.errors
    assert "$.key_points: 'one' is not of type 'array'" in fake.last_request.messages[-1].content


def test_an_example_with_a_type_key_is_an_example(fake: FakeProvider) -> None:
    example = {"type": "Hobby", "name": "Chess", "score": 1}
    fake.enqueue({"type": "Goal", "name": "Marathon", "score": 4})
    assert graph.generate_structured_insights("Q?", "ctx", example)["type"] == "Goal"


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, True),
        ({"properties": {"a": {"type": "string"}}, "required": ["a"]}, True),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "x"}, True),
        ({}, True),
        ({"type": "Hobby"}, False),  # "Hobby" is no JSON type
        ({"type": "string", "value": "..."}, False),  # "value" is no keyword
        ({"summary": "...", "key_points": ["..."]}, False),
        ({"title": "...", "description": "..."}, False),  # keywords, but no type or properties
    ],
)
def test_schema_or_example(value: dict[str, Any], schema: bool) -> None:
    assert is_json_schema(value) is schema


def test_an_example_schema_is_closed_and_typed() -> None:
    derived = example_schema({"n": 1, "x": 0.5, "ok": True, "tags": ["a"], "who": {"name": "A"}})
    assert derived["required"] == ["n", "x", "ok", "tags", "who"]
    assert derived["additionalProperties"] is False
    properties = derived["properties"]
    assert [properties[k]["type"] for k in ("n", "x", "ok", "tags", "who")] == [
        "integer",
        "number",
        "boolean",
        "array",
        "object",
    ]
    assert properties["tags"]["items"] == {"type": "string"}


def test_the_schema_given_twice_is_refused(fake: FakeProvider) -> None:
    from persona_llm import InvalidRequestError

    request = AskRequest(query="Q?", output_schema=APP_EXAMPLE)
    with pytest.raises(InvalidRequestError, match="output_schema already"):
        graph.generate_structured_insights(request, "ctx", APP_EXAMPLE)
    assert fake.calls == []


# -- 4. node types are kept -----------------------------------------------------------------


def test_the_apps_own_node_types_survive(fake: FakeProvider) -> None:
    fake.enqueue(
        {"nodes": [{"name": "Chess", "type": "hobby"}, {"name": "Mystery", "type": "Unknown"}]}
    )
    nodes = asyncio.run(persona.get_nodes("I play chess.", "graph"))
    assert [(n.name, n.type) for n in nodes] == [("Chess", "Hobby"), ("Mystery", "Unknown")]


# -- 7. configuration and clients -----------------------------------------------------------


def test_parse_llm_service_returns_a_tuple_and_raises_value_error() -> None:
    assert persona.parse_llm_service("Anthropic/claude-x") == ("anthropic", "claude-x")
    assert persona.parse_llm_service("openai/") == ("openai", "")
    with pytest.raises(ValueError, match="provider/model") as info:
        persona.parse_llm_service("gpt-4o-mini")
    assert isinstance(info.value, ConfigurationError)


def test_the_chat_client_is_awaited_like_the_apps(fake: FakeProvider) -> None:
    fake.enqueue("Hello Sam.")

    async def app_call() -> str:
        client = persona.get_chat_client()
        messages = [
            persona.ChatMessage(role="system", content="Be brief."),
            persona.ChatMessage(role="user", content="Hi, I am Sam."),
        ]
        response = await client.chat(messages)
        assert isinstance(response, persona.ChatResponse)
        assert response.usage is not None and response.usage.model_dump()["prompt_tokens"] > 0
        return response.content

    assert asyncio.run(app_call()) == "Hello Sam."
    assert isinstance(persona.get_chat_client(), persona.BaseLLMClient)


def test_embeddings_through_the_compat_names(fake: FakeProvider) -> None:
    vectors = asyncio.run(persona.generate_embeddings(["alpha", "beta"]))
    assert len(vectors) == 2 and vectors[0] != vectors[1]
    assert asyncio.run(persona.get_embedding_client().embeddings(["alpha"]))[0] == vectors[0]
