"""Content parts: building, sniffing, validation, OpenAI dict shapes, hygiene, round trips."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_llm import AudioPart, ChatMessage, DocumentPart, ImagePart, TextPart
from persona_llm.content import describe_content, sniff_media_type
from persona_llm.errors import InvalidRequestError
from persona_llm.messages import to_messages
from persona_llm.testing import media

PNG = media.png()
PDF = media.pdf()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (media.png(), "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 10, "image/jpeg"),
        (b"GIF89a" + b"\0" * 10, "image/gif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (media.pdf(), "application/pdf"),
        (media.wav(), "audio/wav"),
        (media.mp3(), "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (b"plain words", None),
    ],
)
def test_media_types_are_sniffed_from_magic_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_media_type(data) == expected


def test_from_path_sniffs_the_bytes_not_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"  # a PNG with a misleading name
    path.write_bytes(PNG)
    part = ImagePart.from_path(path)
    assert part.media_type == "image/png" and part.data == PNG
    document = DocumentPart.from_path(_write(tmp_path / "notes.bin", PDF))
    assert document.media_type == "application/pdf" and document.filename == "notes.bin"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_declared_type_that_contradicts_the_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match the bytes, which are application/pdf"):
        ImagePart.from_bytes(PDF, "image/png")
    with pytest.raises(ValueError, match="not a supported image type"):
        ImagePart.from_bytes(PDF)
    with pytest.raises(ValueError, match="cannot tell the media type"):
        DocumentPart.from_bytes(b"just text")
    assert DocumentPart.from_bytes(b"just text", "text/plain").media_type == "text/plain"
    assert ImagePart.from_bytes(b"\xff\xd8\xff\xe0", "image/jpg").media_type == "image/jpeg"


def test_urls_are_kept_never_fetched_and_only_https() -> None:
    part = ImagePart.from_url("https://example.com/cat.png?size=2")
    assert part.url == "https://example.com/cat.png?size=2" and part.data is None
    assert part.media_type == "image/png"  # guessed from the path, nothing downloaded
    with pytest.raises(ValueError, match="must be https://"):
        ImagePart.from_url("http://169.254.169.254/latest/meta-data")
    with pytest.raises(ValueError, match="must be https://"):
        DocumentPart.from_url("file:///etc/passwd")


def test_a_data_url_is_decoded_into_bytes() -> None:
    part = ImagePart.from_url("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert part.data == PNG and part.url is None and part.media_type == "image/png"
    with pytest.raises(ValueError, match="invalid base64"):
        ImagePart.from_url("data:image/png;base64,@@@")


def test_openai_shaped_dict_parts_validate() -> None:
    b64 = base64.b64encode(PNG).decode()
    message = ChatMessage.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/a.webp", "detail": "low"},
                },
                {
                    "type": "file",
                    "file": {
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,"
                        + base64.b64encode(PDF).decode(),
                    },
                },
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": base64.b64encode(media.wav()).decode(),
                        "format": "wav",
                    },
                },
            ],
        }
    )
    text, image, linked, document, audio = message.content
    assert text == TextPart("What is this?")
    assert isinstance(image, ImagePart) and image.data == PNG
    assert isinstance(linked, ImagePart) and linked.detail == "low" and linked.url
    assert isinstance(document, DocumentPart) and document.filename == "a.pdf"
    assert document.data == PDF
    assert isinstance(audio, AudioPart) and audio.media_type == "audio/wav"
    with pytest.raises(ValueError, match="file_data"):
        ChatMessage(role="user", content=[{"type": "file", "file": {"file_id": "file-1"}}])


def test_media_belongs_in_user_and_tool_messages() -> None:
    with pytest.raises(InvalidRequestError, match="belong in user"):
        to_messages([{"role": "system", "content": [ImagePart.from_bytes(PNG)]}])
    with pytest.raises(InvalidRequestError, match="empty list"):
        to_messages([{"role": "user", "content": []}])
    tool = ChatMessage(role="tool", tool_call_id="c1", content=[ImagePart.from_bytes(PNG)])
    assert tool.text == ""


def test_text_of_parts_and_the_description_show_labels_not_bytes() -> None:
    content = [TextPart("What is this?"), ImagePart.from_bytes(PNG)]
    message = ChatMessage(role="user", content=content)
    assert message.text == "What is this?"
    assert describe_content(message.content) == f"What is this? [image/png {len(PNG):,} bytes]"


def test_reprs_and_errors_never_show_bytes_or_base64() -> None:
    big = media.png(64, 64)
    b64 = base64.b64encode(big).decode()
    part = ImagePart.from_bytes(big)
    message = ChatMessage(role="user", content=[TextPart("hi"), part])
    for shown in (repr(part), str(part), repr(message), str(message)):
        assert f"<image/png {len(big):,} bytes>" in shown
        assert b64[:40] not in shown and "\\x89PNG" not in shown
    with pytest.raises(ValueError) as caught:
        ChatMessage(
            role="system",
            content=[{"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}}],
        )
    assert b64[:24] not in str(caught.value)


def test_fingerprints_are_stable_and_tell_parts_apart() -> None:
    one, same = ImagePart.from_bytes(PNG), ImagePart.from_bytes(bytes(PNG))
    assert one.fingerprint() == same.fingerprint() and len(one.fingerprint()) == 64
    assert one.fingerprint() != ImagePart.from_bytes(media.png(3, 3)).fingerprint()
    assert one.fingerprint() != ImagePart.from_bytes(PNG, detail="low").fingerprint()
    assert TextPart("a").fingerprint() != TextPart("a", cache=True).fingerprint()
    assert one == same and hash(one) == hash(same)


def test_plain_string_content_is_unchanged() -> None:
    (message,) = to_messages([{"role": "user", "content": "Hi"}])
    assert message.content == "Hi" and message.model_dump() == {"role": "user", "content": "Hi"}


_text = st.builds(TextPart, st.text(max_size=20), cache=st.booleans())
_image = st.builds(
    lambda w, h, detail, cache: ImagePart.from_bytes(media.png(w, h), detail=detail, cache=cache),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([None, "low", "high", "auto"]),
    st.booleans(),
)
_document = st.one_of(
    st.builds(
        lambda text, title: DocumentPart.from_bytes(media.pdf(text), title=title),
        st.text(alphabet="abc ()\\", max_size=10),
        st.none() | st.text(max_size=8),
    ),
    st.builds(lambda t: DocumentPart.from_bytes(t.encode(), "text/plain"), st.text(max_size=10)),
    st.builds(
        lambda name: DocumentPart.from_url(f"https://docs.test/{name}.pdf"),
        st.text("xyz", min_size=1, max_size=5),
    ),
)
_audio = st.sampled_from([media.wav(), media.mp3()]).map(AudioPart.from_bytes)


@settings(max_examples=60, deadline=None)
@given(
    role=st.sampled_from(["user", "tool"]),
    parts=st.lists(st.one_of(_text, _image, _document, _audio), min_size=1, max_size=5),
)
def test_any_mixture_of_parts_round_trips_through_dump_and_validation(
    role: str, parts: list[Any]
) -> None:
    extra = {"tool_call_id": "call_1"} if role == "tool" else {}
    message = ChatMessage(role=role, content=parts, **extra)  # type: ignore[arg-type]
    assert ChatMessage.model_validate(message.model_dump()) == message
    assert ChatMessage.model_validate_json(message.model_dump_json()) == message
    assert tuple(message.content) == tuple(parts)
