"""Shared fixtures: a clean environment and a clean default container for every test."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.containers import Container, container
from persona_llm.settings import Settings, load_settings
from persona_llm.testing.emulator import ProviderEmulator

# Variables the library reads; every test starts with none of them set.
LIBRARY_VARIABLES = (*(name.upper() for name in Settings.model_fields), "GOOGLE_API_KEY")


@contextmanager
def scoped_env(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for one block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def clean_library_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No library variable from the developer's shell or .env leaks into a test."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))  # so a developer's .env file is not read
    try:
        with scoped_env(**dict.fromkeys(LIBRARY_VARIABLES)):
            yield
    finally:
        os.chdir(cwd)
        container.reset_override()
        for provider in container.traverse():
            provider.reset_override()
        container.reset_singletons()
        # Kept across reset_clients(), not across tests
        if "persona_llm.usage.tracker" in sys.modules:
            container.usage_tracker().reset()
            container.hooks().clear()


@pytest.fixture
def env() -> Callable[..., AbstractContextManager[None]]:
    """The `scoped_env` context manager, for tests that set variables."""
    return scoped_env


@pytest.fixture
def fresh_container() -> Iterator[Container]:
    """A container of its own, reset after the test."""
    own = Container()
    yield own
    own.reset_singletons()


@pytest.fixture
def container_with(fresh_container: Container) -> Callable[..., Container]:
    """Build a container of its own from settings given as keyword arguments."""

    def build(**settings: Any) -> Container:
        fresh_container.settings.override(providers.Object(load_settings(**settings)))
        return fresh_container

    return build


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
