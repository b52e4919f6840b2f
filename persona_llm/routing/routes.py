"""Task-based model routing: ``LLM_ROUTES`` sends each task to its own model.

::

    LLM_ROUTES=extraction=openai/gpt-4o-mini;relationships=anthropic/;answer=gemini/

Routes are separated by ``;`` (or new lines); each is ``task=targets``, where `targets` uses
the target syntax of ``LLM_FALLBACKS`` and ``LLM_POOL``:

- ``,`` separates targets tried in order (the first answers, the rest are its fallbacks);
- ``+`` joins the members of a load-balanced pool, each with an optional weight ``*N``;
- a target is ``provider/model`` (``provider/`` for that provider's default model), with an
  optional profile ``provider@name/model``.

``answer=openai/gpt-4o*2+azure@us/gpt4o,anthropic/`` balances OpenAI and Azure 2:1 and
falls back to Anthropic. ``LLM_FALLBACKS`` and ``LLM_POOL`` belong to ``LLM_SERVICE`` (and so
to every unrouted task); a route lists its own. Retries (``LLM_MAX_RETRIES``) apply to all.

Task names are lowercase letters, digits, ``_`` and ``-``, starting with a letter: the
workflows' tasks (`WORKFLOW_TASKS`) or any name of your own. The ``embeddings`` route names
the embedding service (one target; ``EMBEDDING_SERVICE`` wins when both are set).

`RouteTable.from_settings` parses and checks the syntax; the container's
`persona_llm.routing.router.Router` checks capabilities (`check_capabilities`) when it is built,
at the first ``get_*_client()`` call, and builds one client per distinct target list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from persona_llm._services import ServiceTarget, embedding_route, route_entries
from persona_llm.errors import ConfigurationError
from persona_llm.usage.tracker import track_usage

if TYPE_CHECKING:
    from persona_llm.settings import Settings
    from persona_llm.types import Capabilities

__all__ = [
    "ANSWER",
    "COMMUNITIES",
    "EMBEDDINGS",
    "EXTRACTION",
    "INSIGHTS",
    "JSON_TASKS",
    "RELATIONSHIPS",
    "WORKFLOW_TASKS",
    "Route",
    "RouteMember",
    "RouteTable",
    "Tiers",
    "check_capabilities",
    "check_task_name",
    "task_scope",
]

EXTRACTION = "extraction"
RELATIONSHIPS = "relationships"
ANSWER = "answer"
COMMUNITIES = "communities"
INSIGHTS = "insights"
EMBEDDINGS = "embeddings"
WORKFLOW_TASKS = (EXTRACTION, RELATIONSHIPS, ANSWER, COMMUNITIES, INSIGHTS, EMBEDDINGS)
"""The tasks the Persona workflows declare (`workflows.graph`, `workflows.embeddings`)."""
JSON_TASKS = frozenset({EXTRACTION, RELATIONSHIPS, COMMUNITIES, INSIGHTS})
"""Workflow tasks that call in JSON mode: their routes must name targets that have it."""

_TASK_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_VARIABLE = "LLM_ROUTES"

C = TypeVar("C")


def check_task_name(task: str, where: str = "") -> str:
    """`task`, if it is a valid task name (`where` prefixes the error message).

    Raises:
        ConfigurationError: it is not lowercase letters, digits, ``_`` and ``-``, starting
            with a letter.
    """
    if not isinstance(task, str) or not _TASK_NAME.fullmatch(task):
        raise ConfigurationError(
            f"{where}task name {task!r} is not valid: use lowercase letters, digits, '_' and '-', "
            "starting with a letter (e.g. 'extraction', 'summary-v2')"
        )
    return task


@contextmanager
def task_scope(task: str, client: C | None, get_client: Callable[[str], C]) -> Iterator[C]:
    """The client of `task` for one block, whose calls are labelled `task` in usage totals.

    `client` when given (a workflow's ``client=`` argument), else ``get_client(task)`` (a
    facade, e.g. `persona_llm.get_chat_client`).
    """
    with track_usage(task=check_task_name(task)):
        yield client if client is not None else get_client(task)


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMember:
    """A target of a route and its weight in a pool (1 unless written ``*N``)."""

    target: ServiceTarget
    weight: int = 1

    def __str__(self) -> str:
        return f"{self.target}" + (f"*{self.weight}" if self.weight != 1 else "")


Tiers = tuple[tuple[RouteMember, ...], ...]


@dataclass(frozen=True)
class Route:
    """One chat route: `tiers` are tried in order; a tier of several members is a pool.

    Targets have their model filled in. Two routes with equal `tiers` share one client.
    """

    task: str
    tiers: Tiers
    reasoning: str | None = None
    """The route's ``reasoning`` level (``task=targets?reasoning=high``); None: LLM_REASONING."""

    @property
    def targets(self) -> tuple[ServiceTarget, ...]:
        """Every target, in order."""
        return tuple(member.target for tier in self.tiers for member in tier)

    @property
    def model(self) -> str:
        """The model of the first target (the routed client's `model`)."""
        return self.tiers[0][0].target.model or ""

    def __str__(self) -> str:
        text = f"{self.task}=" + ",".join("+".join(map(str, tier)) for tier in self.tiers)
        return text + (f"?reasoning={self.reasoning}" if self.reasoning else "")


@dataclass(frozen=True)
class RouteTable:
    """``LLM_ROUTES`` parsed: the chat routes by task, and the embeddings route if any.

    `embedding` is the target as written (its model may be None, meaning the provider's
    default embedding model); `Settings.embedding_target` resolves it.
    """

    routes: Mapping[str, Route]
    embedding: ServiceTarget | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RouteTable:
        """Parse ``settings.llm_routes``.

        Raises:
            ConfigurationError: a malformed route (the message names it and the fix).
        """
        routes: dict[str, Route] = {}
        embedding: ServiceTarget | None = None
        for entry, task, targets in route_entries(settings.llm_routes):
            check_task_name(task, f"{_VARIABLE} entry {entry!r}: ")
            if task in routes or (task == EMBEDDINGS and embedding is not None):
                raise ConfigurationError(f"{_VARIABLE} routes the task {task!r} twice")
            if task == EMBEDDINGS:
                embedding = embedding_route(targets)
            else:
                targets, _, query = targets.partition("?")
                reasoning = _route_reasoning(task, query)
                routes[task] = Route(task, _tiers(settings, task, targets), reasoning)
        return cls(routes, embedding)


_REASONING_LEVELS = ("none", "low", "medium", "high")


def _route_reasoning(task: str, query: str) -> str | None:
    """The ``reasoning`` of a route's ``?reasoning=level`` suffix (None without one)."""
    if not query.strip():
        return None
    name, _, level = query.strip().partition("=")
    if name.strip() != "reasoning" or level.strip() not in _REASONING_LEVELS:
        raise ConfigurationError(
            f"{_VARIABLE}[{task}]: {query.strip()!r} is not a route setting; the one setting "
            f"is ?reasoning=none|low|medium|high (e.g. {task}=openai/o4-mini?reasoning=high)"
        )
    return level.strip()


def _tiers(settings: Settings, task: str, text: str) -> Tiers:
    variable = f"{_VARIABLE}[{task}]"
    tiers: list[tuple[RouteMember, ...]] = []
    seen: set[ServiceTarget] = set()
    for tier_text in text.split(","):
        items = [item.strip() for item in tier_text.split("+") if item.strip()]
        tier = tuple(_member(settings, variable, item, pooled=len(items) > 1) for item in items)
        for member in tier:
            if member.target in seen:
                raise ConfigurationError(f"{variable}={text.strip()!r} names {member.target} twice")
            seen.add(member.target)
        if tier:
            tiers.append(tier)
    if not tiers:
        raise ConfigurationError(f"{variable} names no target; e.g. {task}=openai/gpt-4o-mini")
    return tuple(tiers)


def _member(settings: Settings, variable: str, text: str, *, pooled: bool) -> RouteMember:
    entry, star, weight = text.rpartition("*") if "*" in text else (text, "", "1")
    if star and not pooled:
        raise ConfigurationError(
            f"{variable}: {text!r} has a weight, but weights (*N) are for pool members "
            "joined with '+' (e.g. openai/gpt-4o*2+azure/gpt4o)"
        )
    if not weight.strip().isdigit() or int(weight) < 1:
        raise ConfigurationError(
            f"{variable}: in {text!r} the weight after '*' must be a whole number >= 1"
        )
    return RouteMember(settings.resolve_target(entry, variable), int(weight))


def check_capabilities(table: RouteTable, capabilities_of: Callable[[str], Capabilities]) -> None:
    """Refuse a JSON task (`JSON_TASKS`) routed to a target without JSON mode.

    Args:
        capabilities_of: a provider name's capabilities (the container's router uses the
            adapter class's, which imports that provider's SDK).

    Raises:
        ConfigurationError: naming the route, the target and the fix.
    """
    for route in table.routes.values():
        if route.task not in JSON_TASKS:
            continue
        for target in route.targets:
            if not capabilities_of(target.provider).json_mode:
                raise ConfigurationError(
                    f"{_VARIABLE} route {route}: the {route.task} task needs JSON mode, which "
                    f"the {target.provider} provider does not have; route {route.task} to "
                    "targets with JSON mode, or remove the route to use LLM_SERVICE",
                    provider=target.provider,
                    model=target.model,
                )
