"""Helpers shared by the wire builders: ids, fake vectors, stream splitting."""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from typing import Any

JSONDict = dict[str, Any]


def new_id(prefix: str, length: int = 24) -> str:
    """Returns a random id such as ``msg_01…`` (replies need unique ids, not stable ones)."""
    return prefix + uuid.uuid4().hex[:length]


def fake_vector(text: str, dim: int = 8) -> list[float]:
    """Returns a deterministic pseudo-embedding of ``text``.

    Values are multiples of 1/1024 in [-1, 1], exactly representable in float32,
    so a base64 float32 round trip gives back equal floats.
    """
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")
    raw = b""
    block = 0
    while len(raw) < 2 * dim:
        raw += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    steps = [int.from_bytes(raw[2 * i : 2 * i + 2], "little") % 2049 - 1024 for i in range(dim)]
    return [step / 1024 for step in steps]


def split_pieces(text: str, parts: int = 3) -> list[str]:
    """Splits ``text`` at word boundaries into about ``parts`` pieces that join back to it."""
    words = re.findall(r"\S+\s*|\s+", text)
    if not words:
        return [text]
    size = max(1, math.ceil(len(words) / parts))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def fragments(text: str, parts: int = 3) -> list[str]:
    """Cuts ``text`` into about ``parts`` pieces; ``[""]`` for an empty text."""
    # Tool arguments arrive cut at arbitrary characters, not at word boundaries.
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
