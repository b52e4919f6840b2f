"""Helpers of the fault-injection suite: settings and provider-shaped faults and streams."""

from __future__ import annotations

from typing import Any

from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, SSEReply

PROVIDERS = ("openai", "azure", "anthropic", "gemini")
MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "dep-eu",
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-3.8-flash",
}
KEYS = {
    "openai": "sk-proj-faultsuite0123456789",
    "azure": "0123456789abcdef0123456789abcdef",
    "anthropic": "sk-ant-api03-faultsuite0123456789",
    "gemini": "AIzaSyFaultSuite0123456789abcdefghij",
}


def provider_settings(emu: ProviderEmulator, provider: str) -> dict[str, Any]:
    """Settings pointing `provider` at the emulator, with its test key."""
    base = {
        "openai": ("openai_base_url", emu.openai_base_url),
        "azure": ("azure_api_base", emu.azure_endpoint),
        "anthropic": ("anthropic_base_url", emu.anthropic_base_url),
        "gemini": ("gemini_base_url", emu.gemini_base_url),
    }[provider]
    return {f"{provider}_api_key": KEYS[provider], base[0]: base[1]}


def error_fault(provider: str, status: int, message: str, **fields: Any) -> Fault:
    """A `Fault` whose body is `provider`'s own error JSON for `status`."""
    if provider == "anthropic":
        kinds = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}
        body = wire.anthropic_error(kinds.get(status, "api_error"), message)
    elif provider == "gemini":
        names = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
        body = wire.gemini_error(status, message, names.get(status, "INTERNAL"))
    else:
        body = wire.openai_error(message, type="server_error" if status >= 500 else None)
    return Fault(status, body, **fields)


def cut_stream(provider: str) -> SSEReply:
    """A realistic stream of `provider` whose connection drops before its last event."""
    text = ["one", " two", " three", " four", " five", " six"]
    if provider == "anthropic":
        reply = wire.anthropic_events("".join(text))
    elif provider == "gemini":
        reply = wire.gemini_events(text)
    else:
        reply = wire.openai_chunks(text, azure=provider == "azure")
    return SSEReply(
        reply.events,
        separator=reply.separator,
        event_names=reply.event_names,
        done=reply.done,
        headers=reply.headers,
        drop_after=len(reply.events) - 1,
    )
