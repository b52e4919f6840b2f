"""Routing fixtures: the default container with one fake per provider behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dependency_injector import providers
from routing_helpers import KEYS, PROVIDERS, Fakes

from persona_llm.containers import container
from persona_llm.settings import load_settings
from persona_llm.testing.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """The fake clock the retries of the routed targets sleep on."""
    return FakeClock()


@pytest.fixture
def routed(clock: FakeClock) -> Iterator[Callable[..., Fakes]]:
    """``routed(**settings)``: the default container on these settings (test keys added),
    each provider's adapter replaced by a fake, retries on the fake clock."""

    def install(**settings: Any) -> Fakes:
        fakes = Fakes()
        loaded = load_settings(**(KEYS | settings))
        container.settings.override(providers.Object(loaded))
        policy = clock.policy(max_retries=loaded.llm_max_retries)
        container.retry_policy.override(providers.Object(policy))
        for name in PROVIDERS:
            getattr(container, name).adapter.override(providers.Object(fakes[name]))
        return fakes

    yield install
    # conftest.clean_library_state resets the overrides and singletons
