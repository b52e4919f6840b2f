"""The shapes the Persona graph workflows return: nodes, relationships, communities."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "NODE_TYPES",
    "CommunityHeader",
    "CommunityStructure",
    "CommunitySubheader",
    "Node",
    "NodeType",
    "Relationship",
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
"""The node types, in the order the prompt lists them."""

_BY_LOWER = {name.lower(): name for name in NODE_TYPES}


class Node(BaseModel):
    """One concept of the user's graph.

    `type` is matched case-insensitively; an unknown or missing type becomes ``Other``.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    type: NodeType = "Other"
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
            return _BY_LOWER.get(value.strip().lower(), "Other")
        return value  # not a string: let validation reject the node

    @field_validator("properties", mode="before")
    @classmethod
    def _no_properties(cls, value: Any) -> Any:
        return {} if value is None else value


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
    """A narrow theme and the ids of the subgraphs under it."""

    subheader: str
    subgraph_ids: list[str]


class CommunityHeader(BaseModel):
    """A broad area of life and its themes."""

    header: str
    subheaders: list[CommunitySubheader]


class CommunityStructure(BaseModel):
    """The two-level outline `detect_communities` returns (field names as the app stores them)."""

    communityHeaders: list[CommunityHeader]  # camelCase: the field name of the stored JSON
