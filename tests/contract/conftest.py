"""Contract-test fixtures: one provider emulator per test module, a clean slate per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persona_llm.testing.emulator import ProviderEmulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[ProviderEmulator]:
    """A running emulator shared by the tests of one module."""
    with ProviderEmulator() as server:
        yield server


@pytest.fixture
def emu(emulator: ProviderEmulator) -> ProviderEmulator:
    """The module's emulator with its queues and recorded requests cleared."""
    emulator.reset()
    return emulator
