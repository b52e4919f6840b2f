"""Images, PDFs and audio through the real SDKs to the emulator: bytes checked on arrival.

Every provider's client is built by the container (retries, usage, tracing included), so
these tests exercise what an application calls. The PNG and the PDF are made in the test
(`persona_llm.testing.media`); nothing is downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from content_helpers import SERVICES, settings_for

from persona_llm import AudioPart, DocumentPart, ImagePart, TextPart
from persona_llm.clients import ChatClient
from persona_llm.containers import Container
from persona_llm.errors import InvalidRequestError
from persona_llm.features.streaming import collect_stream
from persona_llm.testing import media
from persona_llm.testing.emulator import ProviderEmulator

PNG = media.png(4, 3, (10, 200, 30))
PDF = media.pdf("Page one of the CV")
WAV = media.wav()


@pytest.fixture
def client_for(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> Callable[[str], ChatClient]:
    def build(provider: str) -> ChatClient:
        client: ChatClient = container_with(**settings_for(emu, provider)).chat_client()
        return client

    return build


def photo_and_pdf() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You read documents."},
        {
            "role": "user",
            "content": [
                TextPart("What is in these?"),
                ImagePart.from_bytes(PNG),
                DocumentPart.from_bytes(PDF, filename="cv.pdf"),
            ],
        },
    ]


@pytest.mark.parametrize("provider", list(SERVICES))
def test_a_png_and_a_pdf_arrive_intact(
    provider: str, emu: ProviderEmulator, client_for: Callable[[str], ChatClient]
) -> None:
    reply = client_for(provider).chat(photo_and_pdf())
    assert reply.content == "echo: What is in these?"
    parts = emu.last_request(provider).parts
    media_parts = [(p.kind, p.media_type, p.data) for p in parts if p.kind != "text"]
    assert media_parts == [("image", "image/png", PNG), ("document", "application/pdf", PDF)]
    assert [p.text for p in parts if p.kind == "text"] == ["What is in these?"]


@pytest.mark.parametrize("provider", list(SERVICES))
def test_streamed_and_asyncio_calls_send_the_same_parts(
    provider: str,
    emu: ProviderEmulator,
    client_for: Callable[[str], ChatClient],
    container_with: Callable[..., Container],
) -> None:
    reply = collect_stream(client_for(provider).stream(photo_and_pdf()))
    assert reply.content == "echo: What is in these?"
    streamed = [(p.kind, p.data) for p in emu.last_request(provider).parts]

    async def ask() -> str:
        container = container_with(**settings_for(emu, provider))
        client = container.async_chat_client()
        try:
            return (await client.chat(photo_and_pdf())).content
        finally:
            await client.adapter.aclose()

    assert asyncio.run(ask()) == "echo: What is in these?"
    assert [(p.kind, p.data) for p in emu.last_request(provider).parts] == streamed
    assert ("image", PNG) in streamed and ("document", PDF) in streamed


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_audio_arrives_where_the_provider_takes_it(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    settings = settings_for(emu, provider)
    if provider == "openai":
        settings["llm_service"] = "openai/gpt-4o-audio-preview"
    client = container_with(**settings).chat_client()
    client.chat([{"role": "user", "content": [TextPart("Transcribe"), AudioPart.from_bytes(WAV)]}])
    (audio,) = [p for p in emu.last_request(provider).parts if p.kind == "audio"]
    assert audio.media_type == "audio/wav" and audio.data == WAV


@pytest.mark.parametrize(
    ("provider", "part", "match"),
    [
        ("anthropic", AudioPart.from_bytes(WAV), "Claude does not take audio"),
        ("openai", AudioPart.from_bytes(WAV), "audio model"),
        ("azure", DocumentPart.from_url("https://files.test/a.pdf"), "never fetches"),
        ("gemini", ImagePart.from_bytes(PNG + b"\0" * (21 * 1024 * 1024)), "per request"),
    ],
)
def test_refused_parts_send_nothing(
    provider: str,
    part: Any,
    match: str,
    emu: ProviderEmulator,
    client_for: Callable[[str], ChatClient],
) -> None:
    client = client_for(provider)
    with pytest.raises(InvalidRequestError, match=match) as caught:
        client.chat([{"role": "user", "content": [TextPart("x"), part]}])
    with pytest.raises(InvalidRequestError, match=match):
        list(client.stream([{"role": "user", "content": [TextPart("x"), part]}]))
    assert caught.value.provider == provider
    assert emu.requests_for(provider) == []


def test_urls_go_to_the_provider_unfetched(
    emu: ProviderEmulator, client_for: Callable[[str], ChatClient]
) -> None:
    url = "https://images.test/cat.png"
    client_for("anthropic").chat([{"role": "user", "content": [ImagePart.from_url(url)]}])
    (part,) = emu.last_request("anthropic").parts
    assert (part.kind, part.url, part.data) == ("image", url, None)
    assert [r.provider for r in emu.requests] == ["anthropic"]  # nothing fetched the URL


def test_fallbacks_skip_a_target_that_cannot_take_the_parts(
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(emu, "anthropic") | settings_for(emu, "gemini")
    settings |= {"llm_service": SERVICES["anthropic"], "llm_fallbacks": SERVICES["gemini"]}
    client = container_with(**settings).chat_client()
    audio = [{"role": "user", "content": [TextPart("Transcribe"), AudioPart.from_bytes(WAV)]}]
    reply = client.chat(audio)
    assert (reply.provider, reply.content) == ("gemini", "echo: Transcribe")
    assert collect_stream(client.stream(audio)).provider == "gemini"
    assert emu.requests_for("anthropic") == []  # skipped, not tried and failed
    assert "skipping anthropic/claude-sonnet-4-6: " in caplog.text
    assert "Claude does not take audio" in caplog.text
    # Plain text still starts with the primary.
    assert client.chat([{"role": "user", "content": "Hi"}]).provider == "anthropic"


def test_when_no_target_can_take_the_parts_the_first_refusal_is_raised(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    settings = settings_for(emu, "anthropic") | settings_for(emu, "openai")
    settings |= {"llm_service": SERVICES["anthropic"], "llm_fallbacks": SERVICES["openai"]}
    client = container_with(**settings).chat_client()
    audio = [{"role": "user", "content": [AudioPart.from_bytes(WAV)]}]
    with pytest.raises(InvalidRequestError, match="Claude does not take audio"):
        client.chat(audio)
    assert emu.requests == []
