"""The Django example through pytest-django's clients, overriding providers per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.apps import apps
from django.conf import settings
from django.test import AsyncClient, Client

from persona_llm import Container, RateLimitError
from persona_llm.providers.fake import FakeProvider
from persona_llm.testing import FakeAsyncChatClient, FakeChatClient, override_llm, use_emulator


@pytest.fixture
def llm() -> Container:
    """The container the app built at start-up (its providers are what tests override)."""
    container: Container = apps.get_app_config("persona_chat").container
    return container


@pytest.fixture
def fake(llm: Container) -> Iterator[FakeProvider]:
    """One fake provider behind the app's sync and async clients for this test."""
    with override_llm(container=llm) as provider:
        yield provider


def test_settings_configure_the_library(llm: Container) -> None:
    configured = llm.settings()
    assert configured.llm_service == settings.PERSONA_LLM["llm_service"]
    assert (configured.llm_timeout, configured.llm_max_retries) == (30, 3)


def test_a_web_request_has_a_deadline_by_default(llm: Container) -> None:
    # Under a web server's 30 s request timeout, retries and fallbacks included.
    assert llm.settings().llm_deadline == 25


def test_sync_view(client: Client, llm: Container) -> None:
    scripted = FakeChatClient(["Hello from the sync view."])
    with llm.chat_client.override(scripted):
        response = client.post(
            "/chat/", {"message": "Hi", "system": "Be kind."}, "application/json"
        )
    assert response.status_code == 200
    assert response.json()["reply"] == "Hello from the sync view."
    assert [m.role for m in scripted.last_request.messages] == ["system", "user"]


@pytest.mark.asyncio
async def test_async_view(async_client: AsyncClient, llm: Container) -> None:
    scripted = FakeAsyncChatClient(["Hello from the async view."])
    with llm.async_chat_client.override(scripted):
        response = await async_client.post("/chat/async/", {"message": "Hi"}, "application/json")
    assert response.status_code == 200
    assert response.json()["reply"] == "Hello from the async view."
    assert scripted.last_request.messages[-1].content == "Hi"


@pytest.mark.asyncio
async def test_both_views_share_one_fake(
    client: Client, async_client: AsyncClient, fake: FakeProvider
) -> None:
    fake.enqueue("first", "second")
    assert client.post("/chat/", {"message": "a"}, "application/json").json()["reply"] == "first"
    response = await async_client.post("/chat/async/", {"message": "b"}, "application/json")
    assert response.json()["reply"] == "second"
    assert [call.request.messages[-1].content for call in fake.calls] == ["a", "b"]


def test_errors_become_json_statuses(client: Client, fake: FakeProvider) -> None:
    assert client.post("/chat/", "not json", "application/json").status_code == 400
    assert client.get("/chat/").status_code == 405
    fake.enqueue(RateLimitError("slow down", provider="fake", retry_after=2))
    response = client.post("/chat/", {"message": "Hi"}, "application/json")
    assert (response.status_code, response["Retry-After"]) == (429, "2")
    assert response.json()["error"] == "RateLimitError"


@pytest.mark.asyncio
async def test_views_over_http_through_the_real_sdks(
    client: Client, async_client: AsyncClient, llm: Container, llm_emulator
) -> None:  # type: ignore[no-untyped-def]
    with use_emulator(llm_emulator, container=llm, llm_service="gemini/gemini-3.8-flash"):
        sync = client.post("/chat/", {"message": "Hi"}, "application/json").json()
        asynchronous = await async_client.post(
            "/chat/async/", {"message": "Ho"}, "application/json"
        )
    assert (sync["provider"], sync["reply"]) == ("gemini", "echo: Hi")
    assert asynchronous.json()["reply"] == "echo: Ho"
    assert [r.provider for r in llm_emulator.requests] == ["gemini", "gemini"]
