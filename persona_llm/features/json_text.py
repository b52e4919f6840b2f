"""Finding the JSON in a model's reply: bare, fenced, surrounded by prose, or slightly broken.

Pure text in, a dict or list out. Repair is left to the `json-repair` library; the regular
expressions here only *locate* JSON, they never rewrite it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from persona_llm.errors import ResponseParseError

__all__ = ["extract_json"]

# Where a JSON object or array starts, as opposed to braces in prose ("the set {a, b}",
# "[citation needed]", a "[ ]" checkbox): an object opens with a key, an array with a value
# that is itself a string or container. Used to locate JSON, never to rewrite it.
_JSON_START = re.compile(
    r"""\{\s*(?:["']|[A-Za-z_$][\w$-]*\s*:)|\[\s*[\[{"']""",
)
_FENCE = re.compile(r"```[ \t]*(?:json5?|javascript|js)?[ \t]*\r?\n?(.*?)```", re.DOTALL | re.I)


def extract_json(text: str, *, repair: bool = True) -> dict[str, Any] | list[Any]:
    """The JSON object or array in a reply: bare, fenced, or surrounded by prose.

    Args:
        text: the reply text.
        repair: fix small defects with `json-repair` when strict parsing fails.

    Raises:
        ResponseParseError: no JSON object or array could be read; `raw_text` is `text`.
    """
    stripped = text.strip()
    try:
        value = json.loads(stripped)
        if isinstance(value, (dict, list)):
            return value
    except json.JSONDecodeError:
        pass
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        found = _strict_at_start(candidate)
        if found is not None:
            return found
    if repair:
        for candidate in candidates:
            found = _repaired(candidate)
            if found is not None:
                return found
    problem = (
        "the reply contains no JSON object or array"
        if not any(_JSON_START.search(c) for c in candidates)
        else "the JSON in the reply is malformed" + ("" if repair else " or incomplete")
    )
    raise ResponseParseError(f"{problem}: {_preview(text)}", raw_text=text, errors=[problem])


def _strict_at_start(text: str) -> dict[str, Any] | list[Any] | None:
    match = _JSON_START.search(text)
    if match is None:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, match.start())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _repaired(text: str) -> dict[str, Any] | list[Any] | None:
    match = _JSON_START.search(text)
    if match is None:
        return None
    opener = text[match.start()]
    closer = "}" if opener == "{" else "]"
    end = text.rfind(closer)
    span = text[match.start() : end + 1] if end > match.start() else text[match.start() :]
    # Imported on first use: most replies parse strictly, and the import is not free.
    import json_repair

    value = json_repair.loads(span)
    kind = dict if opener == "{" else list
    # json-repair turns anything into *something*; accept only the kind of container the
    # text opened, and never an empty one made from non-empty text.
    if not isinstance(value, kind) or (not value and span[1:-1].strip()):
        return None
    return value


def _preview(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
