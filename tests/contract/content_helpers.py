"""Settings that point each provider's client at the emulator (shared by content tests)."""

from __future__ import annotations

from typing import Any

from persona_llm.testing.emulator import ProviderEmulator

SERVICES = {
    "openai": "openai/gpt-4o",
    "azure": "azure/gpt-4o",
    "anthropic": "anthropic/claude-sonnet-4-6",
    "gemini": "gemini/gemini-3.8-flash",
}


def settings_for(emu: ProviderEmulator, provider: str) -> dict[str, Any]:
    common: dict[str, Any] = {"llm_service": SERVICES[provider], "llm_max_retries": 0}
    keys: dict[str, dict[str, Any]] = {
        "openai": {"openai_api_key": "sk-test-1", "openai_base_url": emu.openai_base_url},
        "azure": {
            "azure_api_key": "az-test-1",
            "azure_api_base": emu.azure_endpoint,
            "azure_api_version": "2024-10-21",
        },
        "anthropic": {
            "anthropic_api_key": "sk-ant-test-1",
            "anthropic_base_url": emu.anthropic_base_url,
        },
        "gemini": {"gemini_api_key": "AIza-test-1", "gemini_base_url": emu.gemini_base_url},
    }
    return common | keys[provider]
