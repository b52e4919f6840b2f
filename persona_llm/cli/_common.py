"""What the commands share: switching services, JSON shapes of replies, plain tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from persona_llm.settings import Settings, parse_service
from persona_llm.types import ChatChunk, ChatResponse


def current_settings() -> Settings:
    """The settings the default container uses now (overrides included)."""
    from persona_llm.containers import container

    settings: Settings = container.settings()
    return settings


def use_service(
    chat: str | None = None, embedding: str | None = None, *, where: str = "--service"
) -> Settings:
    """Point the default container at other services; returns the new settings.

    The new settings are the current ones (environment, or a test's override) with only the
    services replaced. Checked before anything changes: a malformed value or a provider
    without its key raises `ConfigurationError` and leaves the container as it was. The
    override stays until `persona_llm.cli.main` returns. `where` names what the user typed
    (``--service``, the REPL's ``/model``) in the error of a malformed value.
    """
    from dependency_injector import providers as di

    from persona_llm.containers import container

    changes = {k: v for k, v in (("llm_service", chat), ("embedding_service", embedding)) if v}
    settings = current_settings()
    if not changes:
        return settings
    for value in (chat, embedding):
        if value:
            parse_service(value, where)
    settings = settings.model_copy(update=changes)
    if chat:
        settings.provider_config(settings.chat_target.provider)
    if embedding:
        settings.provider_config(settings.embedding_target.provider)
    container.settings.override(di.Object(settings))
    container.reset_singletons()
    return settings


def response_json(reply: ChatResponse) -> str:
    """The ``--json`` form of a reply: one line, stable keys."""
    usage = reply.usage.model_dump() if reply.usage is not None else None
    return json.dumps(
        {
            "content": reply.content,
            "model": reply.model,
            "provider": reply.provider,
            "finish_reason": reply.finish_reason,
            "usage": usage,
        },
        ensure_ascii=False,
    )


def chunk_json(chunk: ChatChunk) -> str:
    """The ``--json --stream`` form of a chunk: one JSON line per chunk."""
    usage = chunk.usage.model_dump() if chunk.usage is not None else None
    return json.dumps(
        {"delta": chunk.delta, "finish_reason": chunk.finish_reason, "usage": usage},
        ensure_ascii=False,
    )


def write_table(out: TextIO, rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns, the first row a header underlined with dashes."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    cells.insert(1, ["-" * width for width in widths])
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write(line.rstrip() + "\n")
