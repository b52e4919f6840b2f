"""Message content parts: text, images, documents and audio, provider-neutral.

`ChatMessage.content` is a ``str`` (the common case, sent exactly as before) or a sequence of
parts::

    from persona_llm import ImagePart, TextPart

    content = [TextPart("What is on this photo?"), ImagePart.from_path("photo.jpg")]

* `TextPart` ``(text)``: a piece of text.
* `ImagePart`: PNG, JPEG, GIF or WEBP, from bytes (`from_bytes`), a file (`from_path`), a
  ``data:`` URL or an ``https://`` URL (`from_url`); ``detail`` (``low|high|auto``) is OpenAI's
  and ignored elsewhere.
* `DocumentPart`: a PDF or plain text, from bytes, a file or a URL; optional ``filename`` and
  ``title``.
* `AudioPart`: WAV or MP3, from bytes or a file.

The media type is sniffed from the bytes' magic numbers, never from a file extension; a
declared type that contradicts the bytes is refused. Bytes are kept as they are and encoded
to base64 once, when a provider's request is built. URLs are never fetched by this library:
they are handed to providers that fetch them and refused by the others.

**Prompt-cache marker**: ``cache=True`` on a part marks the end of a prefix the provider may
cache (Anthropic's ``cache_control`` breakpoint goes on that block). It is the one shape of
a marker; for a whole message, mark its last part.

OpenAI-style dict parts validate too (``{"type": "text", "text"}``, ``{"type": "image_url",
"image_url": {"url", "detail"}}``, ``{"type": "file", "file": {"filename", "file_data"}}``,
``{"type": "input_audio", "input_audio": {"data", "format"}}``), so code copied from OpenAI
examples works.

Reprs, logs and error messages show media as ``<image/png 48,213 bytes>``, never their
bytes or base64. `fingerprint()` is a stable content hash (for cache keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = [
    "AUDIO_TYPES",
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "AudioPart",
    "Content",
    "ContentPart",
    "DocumentPart",
    "ImagePart",
    "MediaPart",
    "TextPart",
    "content_text",
    "describe_content",
    "media_parts",
    "parse_content",
    "sniff_media_type",
]

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DOCUMENT_TYPES = ("application/pdf", "text/plain")
AUDIO_TYPES = ("audio/wav", "audio/mpeg")

_ALIASES = {"image/jpg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wav"}
_URL_SCHEMES = ("https://", "gs://")


def sniff_media_type(data: bytes) -> str | None:
    """The media type the magic bytes of `data` announce, or None when unknown.

    Knows PNG, JPEG, GIF, WEBP, PDF, WAV and MP3 (with or without an ID3 tag).
    """
    head = bytes(data[:12])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


class _Part(BaseModel):
    """Shared by every part: frozen, inputs never echoed in validation errors."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    cache: bool = False
    """Mark the end of a cacheable prompt prefix here (Anthropic ``cache_control``)."""

    _fingerprint: str | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Fields only: the cached fingerprint (a private attribute) must not count.
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __str__(self) -> str:
        return repr(self)

    def fingerprint(self) -> str:
        """A stable hash (sha256 hex) of everything the part sends: equal parts, equal hash."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            fields = self.model_dump(exclude={"data"})
            digest.update(json.dumps(fields, sort_keys=True).encode())
            data = getattr(self, "data", None)
            if data is not None:
                digest.update(b"\0")
                digest.update(data)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint


class TextPart(_Part):
    """A piece of text: ``TextPart("Describe this photo")``."""

    type: Literal["text"] = "text"
    text: str

    def __init__(self, text: str | None = None, /, **data: Any) -> None:
        if text is not None:
            data["text"] = text
        super().__init__(**data)

    def __repr__(self) -> str:
        marker = ", cache=True" if self.cache else ""
        return f"TextPart({self.text!r}{marker})"


class MediaPart(_Part):
    """Binary content given as bytes or as a URL the provider fetches (exactly one of them)."""

    kind: ClassVar[str] = "media"
    accepted: ClassVar[tuple[str, ...]] = ()

    data: bytes | None = Field(default=None, repr=False)
    url: str | None = None
    media_type: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_data_url(cls, values: Any) -> Any:
        if isinstance(values, Mapping) and str(values.get("url") or "").startswith("data:"):
            data, media_type = _decode_data_url(str(values["url"]), cls.kind)
            values = {**values, "url": None, "data": data}
            values.setdefault("media_type", None)
            values["media_type"] = values["media_type"] or media_type
        return values

    @model_validator(mode="after")
    def _check(self) -> MediaPart:
        if (self.data is None) == (self.url is None):
            raise ValueError(f"an {self.kind} part needs exactly one of data (bytes) or url")
        if self.url is not None and not self.url.startswith(_URL_SCHEMES):
            raise ValueError(
                f"{self.kind} URL must be https:// (or gs:// for Gemini); to send a local "
                f"or http file, read it yourself and use {type(self).__name__}.from_bytes"
                "/from_path"
            )
        declared = _ALIASES.get(self.media_type or "", self.media_type)
        sniffed = sniff_media_type(self.data) if self.data is not None else None
        if self.data is not None and declared is None and sniffed is None:
            raise ValueError(
                f"cannot tell the media type of these {len(self.data):,} bytes; "
                f"pass media_type= (one of {', '.join(self.accepted)})"
            )
        if declared and sniffed and declared != sniffed:
            raise ValueError(
                f"media_type {declared!r} does not match the bytes, which are {sniffed}"
            )
        media_type = declared or sniffed
        if media_type is not None and media_type not in self.accepted:
            raise ValueError(
                f"{media_type} is not a supported {self.kind} type; use one of "
                f"{', '.join(self.accepted)}"
            )
        object.__setattr__(self, "media_type", media_type)
        return self

    @property
    def size(self) -> int:
        """Length of the bytes (0 for a URL part)."""
        return len(self.data) if self.data is not None else 0

    def base64(self) -> str:
        """The bytes as base64 text (encoded on each call: nothing extra is kept alive)."""
        if self.data is None:
            raise ValueError(f"{self!r} is a URL part and has no bytes")
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        """The bytes as a ``data:<media type>;base64,...`` URL (for OpenAI's wire format)."""
        return f"data:{self.media_type};base64,{self.base64()}"

    def label(self) -> str:
        """What logs and errors show: ``<image/png 48,213 bytes>`` or ``<image url https://…>``."""
        if self.url is not None:
            return f"<{self.media_type or self.kind} url {_short_url(self.url)}>"
        return f"<{self.media_type} {self.size:,} bytes>"

    def __repr__(self) -> str:
        marker = ", cache=True" if self.cache else ""
        return f"{type(self).__name__}({self.label()}{marker})"

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None, **fields: Any) -> Any:
        """A part holding `data`; the media type is sniffed when not given."""
        return cls(data=bytes(data), media_type=media_type, **fields)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], **fields: Any) -> Any:
        """A part holding a file's bytes, its media type sniffed from them."""
        with open(path, "rb") as handle:
            data = handle.read()
        if cls is DocumentPart:
            fields.setdefault("filename", os.path.basename(os.fspath(path)))
        return cls(data=data, **fields)

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None, **fields: Any) -> Any:
        """A part from a ``data:`` URL (decoded) or an ``https://`` URL (passed on, never
        fetched; the media type is guessed from the path when not given)."""
        if not url.startswith("data:") and media_type is None:
            guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
            media_type = guessed if guessed in cls.accepted else None
        return cls(url=url, media_type=media_type, **fields)


class ImagePart(MediaPart):
    """An image: PNG, JPEG, GIF or WEBP."""

    kind: ClassVar[str] = "image"
    accepted: ClassVar[tuple[str, ...]] = IMAGE_TYPES

    type: Literal["image"] = "image"
    detail: Literal["low", "high", "auto"] | None = None
    """OpenAI's image detail; other providers ignore it."""


class DocumentPart(MediaPart):
    """A document: PDF, or plain text (``text/plain``, UTF-8)."""

    kind: ClassVar[str] = "document"
    accepted: ClassVar[tuple[str, ...]] = DOCUMENT_TYPES

    type: Literal["document"] = "document"
    filename: str | None = None
    title: str | None = None

    def label(self) -> str:
        """As `MediaPart.label`, with the file name when there is one."""
        base = super().label()
        return f"{base[:-1]} {self.filename!r}>" if self.filename else base


class AudioPart(MediaPart):
    """Audio: WAV or MP3."""

    kind: ClassVar[str] = "audio"
    accepted: ClassVar[tuple[str, ...]] = AUDIO_TYPES

    type: Literal["audio"] = "audio"


ContentPart = Annotated[
    Union[TextPart, ImagePart, DocumentPart, AudioPart],  # noqa: UP007
    Field(discriminator="type"),
]
"""One part of a message's content."""

Content = Union[str, Sequence[Union[TextPart, MediaPart, Mapping[str, Any]]]]  # noqa: UP007
"""What a message's content may be given as: a str, or parts (objects or dicts)."""


def _short_url(url: str) -> str:
    return url if len(url) <= 60 else url[:57] + "..."


def _decode_data_url(url: str, kind: str) -> tuple[bytes, str | None]:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise ValueError(f"an {kind} data URL must be data:<media type>;base64,<data>")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the {kind} data URL holds invalid base64") from None
    media_type = header[len("data:") : -len(";base64")] or None
    return data, media_type


_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def _from_openai(part: Mapping[str, Any]) -> Any:
    """Our part for an OpenAI Chat Completions content part (other dicts pass unchanged)."""
    kind = part.get("type")
    cache: dict[str, Any] = {"cache": True} if part.get("cache") else {}
    if kind == "text" and "cache_control" in part:  # an Anthropic-style cached text block
        return TextPart(str(part.get("text", "")), cache=True)
    if kind == "image_url":
        spec = part.get("image_url")
        spec = {"url": spec} if isinstance(spec, str) else dict(spec or {})
        if spec.get("detail") is not None:
            cache["detail"] = spec["detail"]
        return ImagePart.from_url(str(spec.get("url") or ""), **cache)
    if kind == "file":
        spec = dict(part.get("file") or {})
        if "file_data" not in spec:
            raise ValueError(
                "file parts must carry file_data (a data: URL); uploaded file ids are "
                "provider-specific: use DocumentPart.from_bytes/from_path instead"
            )
        return DocumentPart.from_url(spec["file_data"], filename=spec.get("filename"), **cache)
    if kind == "input_audio":
        spec = dict(part.get("input_audio") or {})
        media_type = _AUDIO_FORMATS.get(str(spec.get("format")))
        try:
            data = base64.b64decode(str(spec.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("input_audio data is not valid base64") from None
        return AudioPart(data=data, media_type=media_type, **cache)
    return part


def parse_content(value: Any) -> Any:
    """`value` made ready for validation: a str unchanged, a sequence as a tuple of parts
    (str items and OpenAI-style dicts converted)."""
    if type(value) is str or isinstance(value, (str, bytes, Mapping)):
        return value
    if not isinstance(value, Sequence):
        return value
    parts: list[Any] = []
    for item in value:
        if isinstance(item, str):
            parts.append(TextPart(item))
        elif isinstance(item, Mapping):
            parts.append(_from_openai(item))
        else:
            parts.append(item)
    return tuple(parts)


def content_text(content: str | Sequence[Any]) -> str:
    """The text of `content`: the str itself, or its text parts joined with newlines."""
    if type(content) is str:
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def media_parts(content: str | Sequence[Any]) -> list[MediaPart]:
    """The image, document and audio parts of `content` (``[]`` for a str)."""
    if type(content) is str:
        return []
    return [part for part in content if isinstance(part, MediaPart)]


def describe_content(content: str | Sequence[Any]) -> str:
    """`content` as readable text, media as labels: ``What is this? [image/png 48,213 bytes]``."""
    if type(content) is str:
        return content
    pieces = [
        part.text if isinstance(part, TextPart) else f"[{part.label()[1:-1]}]"
        for part in content
        if isinstance(part, (TextPart, MediaPart))
    ]
    return " ".join(piece for piece in pieces if piece)
