"""Content parts in the fake provider and the Persona workflows (container overrides)."""

from __future__ import annotations

import asyncio
import json

from persona_llm import AudioPart, DocumentPart, ImagePart, TextPart
from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.features.streaming import collect_stream
from persona_llm.providers.fake import FakeProvider
from persona_llm.testing import media
from persona_llm.workflows import aio
from persona_llm.workflows.graph import get_nodes
from persona_llm.workflows.prompts import NODES_PROMPT

PNG = media.png(8, 8)
PDF = media.pdf()


def test_the_fake_echo_describes_parts_with_labels() -> None:
    fake = FakeProvider()
    client = ChatClient(fake, "fake-model")
    content = [
        TextPart("What is this?"),
        ImagePart.from_bytes(PNG),
        AudioPart.from_bytes(media.wav()),
    ]
    reply = client.chat([{"role": "user", "content": content}])
    assert reply.content == (
        f"What is this? [image/png {len(PNG):,} bytes] [audio/wav {len(media.wav()):,} bytes]"
    )
    streamed = collect_stream(client.stream([{"role": "user", "content": content}]))
    assert streamed.content == reply.content
    assert fake.last_request.messages[0].content == tuple(content)


def test_get_nodes_takes_a_photo_with_a_caption_and_marks_the_prompt_cacheable() -> None:
    reply = {"nodes": [{"name": "Hiking in the Alps", "type": "Memory"}]}
    fake = FakeProvider([json.dumps(reply)])
    caption = TextPart("Me on the Matterhorn trail last August")
    nodes = get_nodes([caption, ImagePart.from_bytes(PNG)], "", client=ChatClient(fake, "m"))
    assert [node.name for node in nodes] == ["Hiking in the Alps"]
    request = fake.last_request
    assert request.cache_prompt is True
    system, user = request.messages
    assert system.content == NODES_PROMPT
    intro, sent_caption, image = user.content
    assert isinstance(intro, TextPart) and "Text and attachments:" in intro.text
    assert (sent_caption, image) == (caption, ImagePart.from_bytes(PNG))


def test_get_nodes_asyncio_takes_a_pdf_page_and_skips_empty_content() -> None:
    fake = FakeProvider([json.dumps({"nodes": []})])
    client = AsyncChatClient(fake, "m")
    document = DocumentPart.from_bytes(PDF, filename="diary.pdf")
    assert asyncio.run(aio.graph.get_nodes([document], "", client=client)) == []
    assert fake.last_request.messages[1].content[-1] == document
    assert asyncio.run(aio.graph.get_nodes([TextPart("  ")], "", client=client)) == []
    assert len(fake.calls) == 1  # blank parts: no call


def test_plain_text_get_nodes_still_sends_one_string() -> None:
    fake = FakeProvider([json.dumps({"nodes": []})])
    get_nodes("I moved to Lisbon.", "", client=ChatClient(fake, "m"))
    user = fake.last_request.messages[1]
    assert isinstance(user.content, str) and user.content.endswith("Text:\nI moved to Lisbon.")
