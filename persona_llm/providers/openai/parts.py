"""Content parts in OpenAI Chat Completions' wire format (pure; shared with Azure).

* `TextPart` → ``{"type": "text", "text"}``;
* `ImagePart` → ``{"type": "image_url", "image_url": {"url": <data: URL or https URL>,
  "detail"}}`` (``detail`` only when set);
* `DocumentPart` (PDF) → ``{"type": "file", "file": {"filename", "file_data": <data: URL>}}``;
  a document URL or a ``text/plain`` document is refused (Chat Completions takes neither);
* `AudioPart` → ``{"type": "input_audio", "input_audio": {"data": <base64>, "format":
  "wav" | "mp3"}}``, on audio models (``*audio*``) only.

``tool`` messages take text parts only. Models known to take no images (`NO_VISION`) and
OpenAI-compatible servers (no files, no audio) are refused before sending; see
`part_rules`. Cache markers have no OpenAI wire form: OpenAI caches prompt prefixes
automatically (``prompt_cache_key`` routes similar requests together).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from persona_llm.content import AudioPart, DocumentPart, ImagePart, MediaPart, TextPart
from persona_llm.providers._parts import MB, PartRules
from persona_llm.types import Capabilities

__all__ = [
    "NO_VISION",
    "capabilities_for",
    "part_rules",
    "to_openai_parts",
    "to_responses_content",
]

NO_VISION = ("gpt-3.5", "gpt-4-0", "gpt-4-32k", "o1-mini", "o1-preview", "o3-mini", "davinci")
"""Model-name prefixes that take text only (images, PDFs and audio are refused)."""

_AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3"}
_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_LIMITS = {"image": 20 * MB, "document": 32 * MB, "audio": 25 * MB}


def _base(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower()


@functools.lru_cache(maxsize=256)
def capabilities_for(base: Capabilities, provider: str, model: str) -> Capabilities:
    """`base` narrowed to what `model` on `provider` takes (vision, documents, audio)."""
    name = _base(model)
    compatible = provider not in ("openai", "azure")
    vision = base.vision and not name.startswith(NO_VISION)
    return base.model_copy(
        update={
            "vision": vision,
            "documents": base.documents and vision and not compatible,
            "audio_input": base.audio_input and "audio" in name and not compatible,
        }
    )


def part_rules(capabilities: Capabilities, provider: str, *, responses: bool = False) -> PartRules:
    """What `provider` takes, from the model's `capabilities_for` (`responses`: on the
    Responses API, which fetches document URLs but takes no audio)."""
    types: set[str] = set()
    why: dict[str, str] = {}
    if capabilities.vision:
        types |= _IMAGES
    else:
        why["image"] = f"this {provider} model takes text only (no images)"
    if capabilities.documents:
        types.add("application/pdf")
    why["document"] = (
        f"{provider} Chat Completions takes PDF documents only (for text, send a TextPart)"
        if capabilities.documents
        else f"{provider} does not take documents with this model or server"
    )
    if responses:
        why["audio"] = "the OpenAI Responses API takes no audio input (use OPENAI_API=chat)"
    elif capabilities.audio_input:
        types |= set(_AUDIO_FORMATS)
    else:
        why["audio"] = f"audio input needs an {provider} audio model (e.g. gpt-4o-audio-preview)"
    return PartRules(
        provider=provider,
        media_types=frozenset(types),
        url_kinds=frozenset({"image", "document"} if responses else {"image"}),
        max_part_bytes=_LIMITS,
        max_request_bytes=50 * MB,
        why=why,
    )


def _media(part: MediaPart) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url if part.url is not None else part.data_url()}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, DocumentPart):
        filename = part.filename or part.title or "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": part.data_url()}}
    if isinstance(part, AudioPart):
        audio = {"data": part.base64(), "format": _AUDIO_FORMATS[str(part.media_type)]}
        return {"type": "input_audio", "input_audio": audio}
    raise TypeError(f"unknown part {part!r}")  # pragma: no cover - the union is closed


def _responses_media(part: MediaPart) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else part.data_url()
        return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}
    if isinstance(part, DocumentPart) and part.url is not None:
        return {"type": "input_file", "file_url": part.url}
    if isinstance(part, DocumentPart):
        filename = part.filename or part.title or "document.pdf"
        return {"type": "input_file", "filename": filename, "file_data": part.data_url()}
    raise TypeError(f"the Responses API takes no {part!r}")  # audio: refused by part_rules


def to_responses_content(content: Any, role: str) -> Any:
    """A message's content as Responses ``input`` content: a str unchanged, parts as
    ``input_text`` / ``input_image`` / ``input_file`` (``output_text`` in assistant turns)."""
    if isinstance(content, str):
        return content
    text_type = "output_text" if role == "assistant" else "input_text"
    return [
        {"type": text_type, "text": part.text}
        if isinstance(part, TextPart)
        else _responses_media(part)
        for part in content
    ]


def to_openai_parts(parts: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``content`` array of a message with parts (checked by `part_rules` first)."""
    return [
        {"type": "text", "text": part.text} if isinstance(part, TextPart) else _media(part)
        for part in parts
    ]
