"""Reading a Gemini reply from either of its two forms (pure).

A reply reaches the mapping as the SDK's model (``GenerateContentResponse``: snake_case
attributes, thought signatures as bytes) on the SDK's path, or as the JSON body the API sent
(camelCase keys, signatures as base64 text) on the wire path (`persona_llm.providers.gemini.
wire`). `get` reads one field of either, so one set of mapping rules serves both; a unit
property test holds the two to the same `ChatResponse`.
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["get", "signature_text"]

_TO_URLSAFE = str.maketrans("+/", "-_")


def get(obj: Any, name: str, wire_name: str) -> Any:
    """Field `name` of an SDK object, or `wire_name` of a JSON object; None when absent."""
    if isinstance(obj, dict):
        return obj.get(wire_name)
    return getattr(obj, name, None)


def signature_text(raw: Any) -> str | None:
    """A thought signature as standard base64 text (None when there is none).

    The SDK's model holds the decoded bytes (it accepts either base64 alphabet, as the API
    may send the URL-safe one); the JSON holds the text: both come out as the SDK's model
    reads, ``base64.b64encode`` of the bytes.
    """
    if raw is None:
        return None
    if isinstance(raw, (bytes, bytearray)):
        return base64.b64encode(bytes(raw)).decode("ascii")
    text = str(raw)
    if (
        text.isascii() and text.isalnum() and len(text) % 4 == 0
    ):  # no padding, no alphabet question: as it is
        return text
    data = base64.urlsafe_b64decode(text.translate(_TO_URLSAFE) + "=" * (-len(text) % 4))
    return base64.b64encode(data).decode("ascii")
