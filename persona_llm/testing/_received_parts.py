"""Content parts as the emulator received them, decoded from each provider's wire format.

``request.parts`` (a `RecordedRequest`) lists every text, image, document and audio part of
a recorded chat request, base64 decoded, so a test can assert that "the image bytes arrived
intact as image/png" whatever the provider. ``cache`` says whether the part carried an
Anthropic ``cache_control`` breakpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReceivedPart", "received_parts"]


@dataclass(frozen=True)
class ReceivedPart:
    """One part of a recorded request: `kind` is text, image, document or audio."""

    kind: str
    role: str
    text: str | None = None
    media_type: str | None = None
    data: bytes | None = field(default=None, repr=False)
    url: str | None = None
    cache: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        if self.kind == "text":
            return f"ReceivedPart(text {self.role}: {self.text!r:.40})"
        where = f"{len(self.data):,} bytes" if self.data is not None else f"url {self.url}"
        return f"ReceivedPart({self.kind} {self.role}: <{self.media_type} {where}>)"


def _decode(text: str) -> bytes:
    # google-genai sends bytes as URL-safe base64 without padding; the others standard base64.
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _data_url(url: str) -> tuple[str | None, bytes | None, str | None]:
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        return header[5:].removesuffix(";base64") or None, _decode(payload), None
    return None, None, url


def _openai(body: Mapping[str, Any]) -> Iterator[ReceivedPart]:
    for message in body.get("messages") or []:
        role, content = message.get("role", ""), message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            kind = part.get("type")
            if kind == "text":
                yield ReceivedPart("text", role, text=part.get("text"))
            elif kind == "image_url":
                media_type, data, url = _data_url(part["image_url"]["url"])
                detail = (
                    {"detail": part["image_url"]["detail"]} if "detail" in part["image_url"] else {}
                )
                yield ReceivedPart("image", role, None, media_type, data, url, extra=detail)
            elif kind == "file":
                media_type, data, url = _data_url(part["file"].get("file_data", ""))
                extra = {"filename": part["file"].get("filename")}
                yield ReceivedPart("document", role, None, media_type, data, url, extra=extra)
            elif kind == "input_audio":
                audio = part["input_audio"]
                media_type = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(audio.get("format"))
                yield ReceivedPart(
                    "audio", role, media_type=media_type, data=_decode(audio["data"])
                )


def _anthropic_block(block: Mapping[str, Any], role: str) -> Iterator[ReceivedPart]:
    kind, cache = block.get("type"), "cache_control" in block
    if kind == "text":
        yield ReceivedPart("text", role, text=block.get("text"), cache=cache)
    elif kind in ("image", "document"):
        source = block.get("source") or {}
        extra = {"title": block["title"]} if "title" in block else {}
        if source.get("type") == "url":
            yield ReceivedPart(kind, role, url=source.get("url"), cache=cache, extra=extra)
        elif source.get("type") == "text":
            data = str(source.get("data", "")).encode()
            yield ReceivedPart(kind, role, None, "text/plain", data, cache=cache, extra=extra)
        else:
            data = _decode(source.get("data", ""))
            media_type = source.get("media_type")
            yield ReceivedPart(kind, role, None, media_type, data, cache=cache, extra=extra)
    elif kind == "tool_result" and isinstance(block.get("content"), list):
        for nested in block["content"]:
            yield from _anthropic_block(nested, "tool")


def _anthropic(body: Mapping[str, Any]) -> Iterator[ReceivedPart]:
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            yield from _anthropic_block(block, "system")
    for message in body.get("messages") or []:
        if isinstance(message.get("content"), list):
            for block in message["content"]:
                yield from _anthropic_block(block, message.get("role", ""))


def _gemini(body: Mapping[str, Any]) -> Iterator[ReceivedPart]:
    for content in body.get("contents") or []:
        role = content.get("role", "user")
        for part in content.get("parts") or []:
            inline = part.get("inlineData") or part.get("inline_data")
            linked = part.get("fileData") or part.get("file_data")
            if "text" in part and not part.get("thought"):
                yield ReceivedPart("text", role, text=part["text"])
            elif inline:
                media_type = inline.get("mimeType") or inline.get("mime_type")
                yield ReceivedPart(
                    _kind(media_type), role, None, media_type, _decode(inline["data"])
                )
            elif linked:
                media_type = linked.get("mimeType") or linked.get("mime_type")
                url = linked.get("fileUri") or linked.get("file_uri")
                yield ReceivedPart(_kind(media_type), role, media_type=media_type, url=url)


def _kind(media_type: str | None) -> str:
    prefix = (media_type or "").split("/", 1)[0]
    return {"image": "image", "audio": "audio"}.get(prefix, "document")


def received_parts(provider: str, body: Any) -> list[ReceivedPart]:
    """The content parts of a recorded chat request body (``[]`` for plain text content)."""
    if not isinstance(body, Mapping):
        return []
    readers = {"openai": _openai, "azure": _openai, "anthropic": _anthropic, "gemini": _gemini}
    reader = readers.get(provider)
    return list(reader(body)) if reader is not None else []
