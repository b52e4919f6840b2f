"""Task routing: `routes` parses ``LLM_ROUTES`` into a route table (values, no I/O) and names
the workflow tasks; `router` builds a chat client per route over the container's adapters.

The names of ``persona_llm.routing`` before the move are re-exported here.
"""

from __future__ import annotations

from persona_llm.routing.routes import (
    ANSWER,
    COMMUNITIES,
    EMBEDDINGS,
    EXTRACTION,
    INSIGHTS,
    JSON_TASKS,
    RELATIONSHIPS,
    WORKFLOW_TASKS,
    Route,
    RouteMember,
    RouteTable,
    Tiers,
    check_capabilities,
    check_task_name,
    task_scope,
)

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
