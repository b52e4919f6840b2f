"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
    llm_fake: a `FakeProvider` behind every facade of the default container for one test;
        script it with ``llm_fake.enqueue(...)``, inspect ``llm_fake.calls``.

Markers:
    real_keys: the test calls a real provider; it is skipped unless ``PERSONA_LLM_REAL_KEYS=1``
        and the provider's key are set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from persona_llm.providers.fake import FakeProvider


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers."""
    config.addinivalue_line(
        "markers", "real_keys: needs real provider keys; skipped unless PERSONA_LLM_REAL_KEYS=1"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip `real_keys` tests unless real calls were asked for."""
    if item.get_closest_marker("real_keys") and os.environ.get("PERSONA_LLM_REAL_KEYS") != "1":
        pytest.skip("needs real provider keys: set PERSONA_LLM_REAL_KEYS=1 and the provider key")


@pytest.fixture
def llm_fake() -> Iterator[FakeProvider]:
    """A fake provider behind `get_chat_client()` and friends for the duration of one test."""
    from persona_llm.testing import override_llm

    with override_llm() as fake:
        yield fake
