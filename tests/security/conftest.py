"""Security tests' fixtures: one emulator and one adapter per provider for the module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator


@pytest.fixture(scope="module")
def adapters(emulator: ProviderEmulator) -> Iterator[dict[str, ProviderAdapter]]:
    """One real adapter per provider on the emulator (no retries: one request per call)."""
    built = {name: build_adapter(emulator.config_for(name)) for name in PROVIDERS}
    yield built
    for adapter in built.values():
        adapter.close()
        adapter._client.close()  # type: ignore[attr-defined]  # the blocking SDK client
