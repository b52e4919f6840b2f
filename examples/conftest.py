"""Suite hygiene for the example apps: no provider key or library setting from the developer's
shell reaches their tests, and the library's default container is clean after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from persona_llm import Settings, container

LIBRARY_VARIABLES = (*(name.upper() for name in Settings.model_fields), "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def isolated_llm_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run each test without the library's environment variables (and away from any .env)."""
    saved = {name: os.environ.pop(name) for name in LIBRARY_VARIABLES if name in os.environ}
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    container.reset_singletons()
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.update(saved)
        container.reset_singletons()
