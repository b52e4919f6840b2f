"""The shapes the Persona graph workflows return: nodes, relationships, communities."""

from __future__ import annotations

from typing import Any, Literal, Protocol, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "NODE_TYPES",
    "AskRequestLike",
    "CommunityHeader",
    "CommunityStructure",
    "CommunitySubheader",
    "Node",
    "NodeLike",
    "NodeType",
    "Relationship",
    "SubgraphId",
    "node_type",
]

NodeType = Literal[
    "Identity",
    "Memory",
    "Preference",
    "Trait",
    "Narrative",
    "Goal",
    "Event",
    "State",
    "Relationship",
    "Belief",
    "Other",
]

NODE_TYPES: tuple[str, ...] = get_args(NodeType)
"""The node types the prompt proposes, in the order it lists them."""

_BY_LOWER = {name.lower(): name for name in NODE_TYPES}

SubgraphId = Union[int, str]  # noqa: UP007
"""A subgraph id as the model returned it: the app numbers its subgraphs, others name them."""


def node_type(value: str) -> str:
    """`value` as a node type: one of `NODE_TYPES` matched case-insensitively, else the
    model's own type with its case normalized word by word (``"hobby"`` -> ``"Hobby"``,
    ``"HOBBY"`` -> ``"Hobby"``, mixed case such as ``"PhD"`` kept); blank -> ``"Other"``."""
    words = value.split()
    if not words:
        return "Other"
    known = _BY_LOWER.get(" ".join(words).lower())
    if known is not None:
        return known
    return " ".join(w.capitalize() if w.islower() or w.isupper() else w for w in words)


class Node(BaseModel):
    """One concept of the user's graph.

    `type` is kept as the model wrote it, case normalized by `node_type`: a known type gets
    its canonical spelling (``"identity"`` -> ``"Identity"``), another type is kept
    (``"hobby"`` -> ``"Hobby"``); a missing or blank type becomes ``Other``. To restrict the
    types, pass ``node_types=`` to `get_nodes`.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    type: str = "Other"
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name", mode="before")
    @classmethod
    def _strip_name(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value is None:
            return "Other"
        if isinstance(value, str):
            return node_type(value)
        return value  # not a string: let validation reject the node

    @field_validator("properties", mode="before")
    @classmethod
    def _no_properties(cls, value: Any) -> Any:
        return {} if value is None else value


class NodeLike(Protocol):
    """Any node object: `get_relationships` reads ``.name``, ``.type`` (and ``.properties``
    when present), so the Persona app's own ``Node`` class works unchanged."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> Any: ...


class AskRequestLike(Protocol):
    """The Persona app's ask request: `generate_structured_insights` reads ``.query`` and
    ``.output_schema`` (a JSON Schema or an example object)."""

    @property
    def query(self) -> str: ...

    @property
    def output_schema(self) -> Any: ...


class Relationship(BaseModel):
    """A directed edge between two nodes, by name and by the temporary id the model used.

    The ids tell apart nodes that share a name; they are the keys of the id mapping that
    `get_relationships` returns with the relationships.
    """

    model_config = ConfigDict(frozen=True)

    source_id: str
    source: str
    relation: str
    target_id: str
    target: str


class CommunitySubheader(BaseModel):
    """A narrow theme and the ids of the subgraphs under it.

    Ids keep the type the model returned: integers stay integers (the app numbers its
    subgraphs and sorts them), strings stay strings.
    """

    subheader: str
    subgraph_ids: list[SubgraphId]


class CommunityHeader(BaseModel):
    """A broad area of life and its themes."""

    header: str
    subheaders: list[CommunitySubheader]


class CommunityStructure(BaseModel):
    """The two-level outline `detect_communities` returns (field names as the app stores them)."""

    communityHeaders: list[CommunityHeader]  # camelCase: the field name of the stored JSON
