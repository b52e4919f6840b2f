"""The views: a blocking chat, a streamed chat (server-sent events) and the graph extraction.

Clients are injected from the container by dependency-injector's wiring (``Provide``), so a
test replaces them with ``container.chat_client.override(...)`` and no view changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, abort, jsonify, request, stream_with_context

from persona_llm import (
    ChatChunk,
    ChatClient,
    ConfigurationError,
    Container,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    RateLimitError,
)
from persona_llm.workflows.graph import get_nodes, get_relationships

blueprint = Blueprint("llm", __name__)


def _field(name: str) -> str:
    payload = request.get_json(silent=True)
    value = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(value, str) or not value.strip():
        abort(400, f"send a JSON object with a non-empty {name!r} string")
    return value


def _messages() -> list[dict[str, str]]:
    payload = request.get_json(silent=True) or {}
    system = payload.get("system")
    messages = [{"role": "system", "content": system}] if isinstance(system, str) else []
    return [*messages, {"role": "user", "content": _field("message")}]


@blueprint.post("/chat")
@inject
def chat(client: ChatClient = Provide[Container.chat_client]) -> Response:
    """Answer ``{"message": ..., "system"?: ...}`` with the model's reply."""
    reply = client.chat(_messages())
    usage = reply.usage.model_dump() if reply.usage else None
    return jsonify(
        reply=reply.content,
        model=reply.model,
        provider=reply.provider,
        finish_reason=reply.finish_reason,
        usage=usage,
    )


def _events(first: ChatChunk | None, rest: Iterator[ChatChunk]) -> Iterator[str]:
    try:
        chunk = first
        while chunk is not None:
            if chunk.delta:
                yield f"data: {json.dumps({'delta': chunk.delta})}\n\n"
            if chunk.finish_reason is not None:
                usage = chunk.usage.model_dump() if chunk.usage else None
                done = {"finish_reason": chunk.finish_reason, "usage": usage}
                yield f"event: done\ndata: {json.dumps(done)}\n\n"
            chunk = next(rest, None)
    except LLMError as exc:  # the status line is sent already: report it as an event
        error = {"error": type(exc).__name__, "message": str(exc)}
        yield f"event: error\ndata: {json.dumps(error)}\n\n"


@blueprint.post("/chat/stream")
@inject
def chat_stream(client: ChatClient = Provide[Container.chat_client]) -> Response:
    """Stream the reply as server-sent events: ``data: {"delta": ...}``, then ``event: done``."""
    chunks = iter(client.stream(_messages()))
    # Wait for the first chunk here, so that an error before any text (bad key, rate
    # limit) still gets a proper HTTP status from the error handler below.
    first = next(chunks, None)
    return Response(stream_with_context(_events(first, chunks)), mimetype="text/event-stream")


@blueprint.post("/graph")
@inject
def graph(client: ChatClient = Provide[Container.chat_client]) -> Response:
    """Extract the Persona graph (nodes, then relationships) from ``{"text": ...}``."""
    context = (request.get_json(silent=True) or {}).get("graph_context") or "(empty graph)"
    nodes = get_nodes(_field("text"), context, client=client)
    relationships, _ = get_relationships(nodes, context, client=client)
    return jsonify(
        nodes=[node.model_dump() for node in nodes],
        relationships=[relationship.model_dump() for relationship in relationships],
    )


def status_for(exc: LLMError) -> int:
    """The HTTP status this app answers a library error with."""
    if isinstance(exc, ConfigurationError):
        return 500  # our deployment is wrong, not the request
    if isinstance(exc, InvalidRequestError):
        return 400
    if isinstance(exc, RateLimitError):
        return 429
    if isinstance(exc, LLMTimeoutError):
        return 504
    return 502  # the provider failed us


@blueprint.errorhandler(LLMError)
def llm_error(exc: LLMError) -> tuple[Response, int, dict[str, str]]:
    """Library errors as JSON (their messages never contain keys)."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitError) and exc.retry_after:
        headers["Retry-After"] = str(int(exc.retry_after))
    return jsonify(error=type(exc).__name__, message=str(exc)), status_for(exc), headers


@blueprint.errorhandler(400)
def bad_request(exc: Any) -> tuple[Response, int]:
    """Malformed requests as JSON too."""
    return jsonify(error="BadRequest", message=exc.description), 400
