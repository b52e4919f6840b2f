"""Fault-injection fixtures: the provider emulator, and containers pointed at it.

Every test here runs the whole stack — container, reliability wrappers, adapter, the real
SDK over HTTP — against the emulator's scripted faults. Waits go to a fake clock, so retries
cost no time; timeouts are real but short.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers
from fault_helpers import MODELS, provider_settings

from persona_llm.containers import Container
from persona_llm.reliability.build import retry_policy
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.emulator import ProviderEmulator


@pytest.fixture
def clock() -> FakeClock:
    """The fake clock the containers' retry policy sleeps on."""
    return FakeClock()


@pytest.fixture
def stack(
    emu: ProviderEmulator, container_with: Callable[..., Container], clock: FakeClock
) -> Callable[..., Container]:
    """``stack(provider, **settings)``: a container whose LLM_SERVICE is `provider` on the
    emulator; the retry policy comes from the settings but sleeps on the fake clock."""

    def build(provider: str, *others: str, **settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": f"{provider}/{MODELS[provider]}",
            "embedding_service": "fake/x",
            "llm_timeout": 2.0,
            "llm_connect_timeout": 1.0,
        }
        for name in (provider, *others):
            values |= provider_settings(emu, name)
        container = container_with(**(values | settings))
        policy = dataclasses.replace(
            retry_policy(container.reliability()),
            clock=clock,
            sleep=clock.sleep,
            asleep=clock.asleep,
        )
        container.retry_policy.override(providers.Object(policy))
        return container

    return build
