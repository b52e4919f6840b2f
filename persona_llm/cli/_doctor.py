"""``persona-llm providers`` and ``persona-llm doctor``: what is installed and configured.

Both read the settings the library would use (the environment and ``.env``) and show keys
only as set or unset. ``doctor`` also pings the ``LLM_STATE`` store and lists the rate
limits and the cache. Only ``doctor --online`` sends requests: one tiny chat request to
``LLM_SERVICE`` and one embedding of one word to the embedding service.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import time
from collections.abc import Callable
from typing import TextIO

from persona_llm.cli._common import current_settings, write_table
from persona_llm.cli._doctor_state import state_rows
from persona_llm.cli._endpoints import endpoint_summary
from persona_llm.errors import ConfigurationError, LLMError
from persona_llm.settings import OPENAI_COMPATIBLE, PROVIDERS, Settings

# distribution, module, extra, providers served
_SDKS = (
    ("openai", "openai", "openai", frozenset({"openai", "azure", *OPENAI_COMPATIBLE})),
    ("anthropic", "anthropic", "anthropic", frozenset({"anthropic"})),
    ("google-genai", "google.genai", "gemini", frozenset({"gemini", "vertex"})),
)
_MAIN_PROVIDERS = ("openai", "azure", "anthropic", "gemini")

Row = tuple[str, str, str]


def sdk_version(distribution: str, module: str) -> str | None:
    """The installed version of an SDK, or None when it cannot be imported."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return None
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def _sdk_of(provider: str) -> tuple[str, str] | None:
    for distribution, module, _extra, served in _SDKS:
        if provider in served:
            return distribution, module
    return None  # the fake provider needs no SDK


def _configured(settings: Settings, provider: str) -> str:
    """``yes`` or ``no: <what is missing>`` (never a key)."""
    try:
        settings.provider_config(provider)
    except ConfigurationError as exc:
        return "no: " + exc.message.split(":")[0]
    return "yes"


def run_providers(out: TextIO) -> int:
    """Print one row per provider: SDK version, configured, capabilities."""
    from persona_llm.providers import capabilities_of

    settings = current_settings()
    rows: list[tuple[str, ...]] = [
        ("provider", "sdk", "configured", "chat", "embeddings", "json", "stream", "endpoint")
    ]
    for name in PROVIDERS:
        sdk = _sdk_of(name)
        version = sdk_version(*sdk) if sdk else "built-in"
        if version is not None:
            caps = capabilities_of(name)
            flags = [caps.chat, caps.embeddings, caps.json_mode, caps.streaming]
            features = ["yes" if flag else "no" for flag in flags]
        else:
            features = ["?"] * 4
        sdk_cell = "built-in" if sdk is None else f"{sdk[0]}=={version}" if version else "missing"
        endpoint = endpoint_summary(settings, name)
        rows.append((name, sdk_cell, _configured(settings, name), *features, endpoint))
    write_table(out, rows)
    out.write(f"\nLLM_SERVICE={settings.llm_service}  (keys are shown only as set/unset)\n")
    return 0


def _service_rows(settings: Settings) -> tuple[list[Row], set[str]]:
    """Rows for LLM_SERVICE and EMBEDDING_SERVICE, and the providers they need."""
    rows: list[Row] = []
    needed: set[str] = set()
    try:
        chat = settings.chat_target
        rows.append(("LLM_SERVICE", "ok", str(chat)))
        needed.add(chat.provider)
    except ConfigurationError as exc:
        rows.append(("LLM_SERVICE", "FAIL", exc.message))
    try:
        embedding = settings.embedding_target
        note = " (fallback: the chat provider has no embeddings)"
        rows.append(
            (
                "EMBEDDING_SERVICE",
                "ok",
                str(embedding) + (note if settings.embedding_is_fallback else ""),
            )
        )
        needed.add(embedding.provider)
    except ConfigurationError as exc:
        rows.append(("EMBEDDING_SERVICE", "FAIL", exc.message))
    return rows, needed


def _route_rows(settings: Settings) -> tuple[list[Row], set[str]]:
    """One row per ``LLM_ROUTES`` route (its targets in the order tried), and their providers."""
    if not settings.llm_routes.strip():
        return [], set()
    from persona_llm.routing.routes import RouteTable

    try:
        table = RouteTable.from_settings(settings)
    except ConfigurationError as exc:
        return [("LLM_ROUTES", "FAIL", exc.message)], set()
    rows: list[Row] = []
    needed: set[str] = set()
    for task, route in sorted(table.routes.items()):
        tiers = [" + ".join(str(member.target) for member in tier) for tier in route.tiers]
        level = f" (reasoning={route.reasoning})" if route.reasoning else ""
        rows.append((f"route {task}", "ok", " -> ".join(tiers) + level))
        needed |= {target.provider for target in route.targets}
    if table.embedding is not None:
        rows.append(("route embeddings", "ok", str(table.embedding)))
        needed.add(table.embedding.provider)
    return rows, needed


def _sdk_rows(needed: set[str]) -> list[Row]:
    rows: list[Row] = []
    for distribution, module, extra, served in _SDKS:
        version = sdk_version(distribution, module)
        users = sorted(needed & served)
        if version is not None:
            rows.append((f"sdk {distribution}", "ok", version))
        else:
            status = "FAIL" if users else "-"
            rows.append(
                (
                    f"sdk {distribution}",
                    status,
                    f"not installed: pip install 'persona-llm[{extra}]'",
                )
            )
    return rows


def _provider_rows(settings: Settings, needed: set[str]) -> list[Row]:
    rows: list[Row] = []
    for name in [*_MAIN_PROVIDERS, *sorted(needed - set(_MAIN_PROVIDERS))]:
        state = _configured(settings, name)
        used = " (in use)" if name in needed else ""
        if state == "yes":
            rows.append((f"provider {name}", "ok", endpoint_summary(settings, name) + used))
        else:
            rows.append((f"provider {name}", "FAIL" if needed & {name} else "-", state[4:] + used))
    return rows


def _timed(check: str, call: Callable[[], str]) -> Row:
    start = time.perf_counter()
    try:
        detail = call()
    except LLMError as exc:
        return (check, "FAIL", f"{type(exc).__name__}: {exc}".replace("\n", " "))
    return (check, "ok", f"{detail} in {time.perf_counter() - start:.2f} s")


def _online_rows() -> list[Row]:
    from persona_llm.facades import get_chat_client, get_embedding_client

    def chat() -> str:
        reply = get_chat_client().chat(
            [{"role": "user", "content": "Reply with the single word: ok"}], max_tokens=16
        )
        return f"{reply.provider}/{reply.model} answered"

    def embed() -> str:
        client = get_embedding_client()
        vectors = client.embeddings(["persona-llm doctor"])
        return f"{client.provider}/{client.model}: {len(vectors[0])} dimensions"

    return [_timed("online chat", chat), _timed("online embeddings", embed)]


def run_doctor(out: TextIO, *, online: bool) -> int:
    """Print the checks as a table; exit status 1 when any check failed."""
    from persona_llm import __version__

    rows: list[Row] = [
        ("python", "ok", platform.python_version()),
        ("persona-llm", "ok", __version__),
    ]
    try:
        settings = current_settings()
    except ConfigurationError as exc:
        rows.append(("settings", "FAIL", exc.message))
        settings = None
    if settings is not None:
        rows.append(("settings", "ok", "environment and .env read"))
        service_rows, needed = _service_rows(settings)
        route_rows, routed = _route_rows(settings)
        service_rows += route_rows
        needed |= routed
        rows += [*service_rows, *_sdk_rows(needed), *_provider_rows(settings, needed)]
        rows += state_rows(settings)
        healthy = all(status != "FAIL" for _, status, _ in rows)
        if not online:
            rows.append(("online", "skip", "run `persona-llm doctor --online` to send requests"))
        elif healthy:
            rows += _online_rows()
        else:
            rows.append(("online", "skip", "fix the failures above first"))
    write_table(out, [("check", "status", "detail"), *rows])
    failed = sum(status == "FAIL" for _, status, _ in rows)
    out.write(
        f"\n{failed} check(s) failed. Keys are shown only as set/unset.\n"
        if failed
        else "\nAll checks passed. Keys are shown only as set/unset.\n"
    )
    return 1 if failed else 0
