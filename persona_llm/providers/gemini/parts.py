"""Content parts in Gemini's ``contents`` format (pure; google-genai field names).

* `TextPart` → ``{"text"}``;
* `ImagePart`, `DocumentPart` (PDF or plain text), `AudioPart` (WAV, MP3) with bytes →
  ``{"inline_data": {"mime_type", "data": <bytes>}}`` (the SDK encodes the base64 itself);
* with a URL (``https://`` or ``gs://``, fetched by Google) → ``{"file_data": {"mime_type",
  "file_uri"}}``; Gemini needs the media type, so a URL whose type cannot be guessed from
  its path needs ``media_type=``.

Function responses carry text only, so media in a ``tool`` message is refused. Cache markers
are accepted and not sent: Gemini caches repeated prefixes implicitly on current models
(explicit ``cachedContents`` are out of scope). Limit: inline data up to 20 MB per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persona_llm.content import AUDIO_TYPES, DOCUMENT_TYPES, IMAGE_TYPES, MediaPart, TextPart
from persona_llm.errors import InvalidRequestError
from persona_llm.providers._parts import MB, PartRules

__all__ = ["PART_RULES", "to_gemini_parts"]

PART_RULES = PartRules(
    provider="gemini",
    media_types=frozenset((*IMAGE_TYPES, *DOCUMENT_TYPES, *AUDIO_TYPES)),
    url_kinds=frozenset({"image", "document", "audio"}),
    max_request_bytes=20 * MB,
)

_WIRE_TYPES = {"audio/mpeg": "audio/mp3"}  # the name Gemini's documentation lists


def _media(part: MediaPart) -> dict[str, Any]:
    mime_type = _WIRE_TYPES.get(str(part.media_type), part.media_type)
    if part.url is None:
        return {"inline_data": {"mime_type": mime_type, "data": part.data}}
    if mime_type is None:
        raise InvalidRequestError(
            f"{part.label()}: Gemini needs the media type of a file URL and it cannot be "
            f"guessed from the URL; pass {type(part).__name__}.from_url(url, media_type=...)",
            provider="gemini",
        )
    return {"file_data": {"mime_type": mime_type, "file_uri": part.url}}


def to_gemini_parts(parts: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``parts`` of a message with parts, in order (checked by `PART_RULES` first)."""
    return [{"text": part.text} if isinstance(part, TextPart) else _media(part) for part in parts]
