"""Values generated from a JSON Schema, for the fake provider's unscripted JSON replies.

Like pydantic-ai's ``TestModel``: a reply valid against the schema, built without a model,
deterministic for a given random generator. Strings are short phrases taken in turn from the
request's own text (the content words of each clause of the last paragraph of the last user
message, where the workflows put their data), so nodes extracted from "I moved to Lisbon in
March. My sister Ana visits" are named "Moved Lisbon March" and "Sister Ana visits"; the
values of an ``enum`` are also taken in turn, so two ids drawn one after the other differ.
Arrays get two or three items unless the schema says otherwise.
What is honoured: ``type`` (the first non-null one), ``enum``,
``const``, ``anyOf``/``oneOf`` (the first non-null alternative), ``allOf`` (merged),
``$ref``, ``properties`` (every property is filled), ``items``/``prefixItems``,
``minItems``/``maxItems``/``uniqueItems``, ``minLength``/``maxLength``, ``minimum``/``maximum``
(and exclusive), ``multipleOf``, ``pattern`` (tried against a few candidates), common
``format``s. An untyped schema gets ``null``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["phrase_words", "schema_instance"]

_STOPWORD_TEXT = (
    "the a an and or but to of in on at for with from by about into over after before is are "
    "was were be been being am i my me we our you your he she it its they them their this that "
    "these those what which who whom how why when where do does did have has had not no yes so "
    "as if then than too very can could will would should shall may might must just also every "
    "each all any some"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_FORMATS = {
    "date": "2024-03-01",
    "date-time": "2024-03-01T09:30:00Z",
    "time": "09:30:00",
    "email": "user@example.com",
    "uri": "https://example.com/item",
    "url": "https://example.com/item",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 8  # recursive schemas ($ref to an ancestor) stop here


def phrase_words(text: str) -> list[str]:
    """Short phrases of `text`'s last paragraph (a ``Label:`` first line dropped): the first
    content words of each clause."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    lines = (paragraphs[-1] if paragraphs else "").strip().splitlines()
    if len(lines) > 1 and lines[0].rstrip().endswith(":"):
        lines = lines[1:]
    phrases = []
    for clause in re.split(r"[.,;:!?()\n]+|\s(?:and|but|so|because)\s", " ".join(lines)):
        words = re.findall(r"[^\W_][\w'-]*", clause)
        content = [w for w in words if len(w) > 2 and w.lower() not in _STOPWORDS]
        if content:
            phrase = " ".join(content[:3])
            phrases.append(phrase[:1].upper() + phrase[1:])
    return list(dict.fromkeys(phrases)) or ["Value"]


def schema_instance(schema: Any, rng: random.Random, words: Sequence[str]) -> Any:
    """A value valid against `schema` (see the module doc for what is honoured)."""
    return _Generator(schema, rng, list(words) or ["value"]).value(schema, 0)


class _Generator:
    def __init__(self, root: Any, rng: random.Random, words: list[str]) -> None:
        self.root = root
        self.rng = rng
        self.words = words
        self.turns: dict[str, int] = {}  # the next value of each enum (and of the phrases)

    def value(self, schema: Any, depth: int) -> Any:
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return None
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self._in_turn(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.value(_first_non_null(schema[key], self._resolve), depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part) or {})
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return self.value(merged, depth + 1)
        kind = _type_of(schema)
        maker = getattr(self, f"_{kind}", None) if kind else None
        return maker(schema, depth) if maker else None

    def _resolve(self, schema: Any) -> Any:
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**(target or {}), **rest}
        return schema

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        return {name: self.value(sub, depth + 1) for name, sub in properties.items()}

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = [self.value(sub, depth + 1) for sub in schema.get("prefixItems") or []]
        low = max(int(schema.get("minItems", 2)), len(prefix))
        high = min(int(schema.get("maxItems", low + 1)), low + 1)
        count = self.rng.randint(min(low, high), high)
        items: list[Any] = prefix[:count]
        for _ in range(4 * count):  # a few tries to satisfy uniqueItems
            if len(items) >= count:
                break
            item = self.value(schema.get("items", {"type": "string"}), depth + 1)
            if not (schema.get("uniqueItems") and item in items):
                items.append(item)
        return items

    def _string(self, schema: Mapping[str, Any], depth: int) -> str:
        candidates = [self._phrase()]
        if schema.get("format") in _FORMATS:
            candidates.insert(0, _FORMATS[schema["format"]])
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            candidates += [*self.words, "A", "a", "1", "A1", "a-1", "A_B"]
            candidates = [c for c in candidates if re.search(pattern, c)] or candidates
        text = candidates[0]
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text + "x" * max(0, low - len(text))
        return text[: int(high)] if high is not None else text

    def _phrase(self) -> str:
        phrase: str = self._in_turn(self.words)
        return phrase

    def _in_turn(self, values: list[Any]) -> Any:
        """The values one after the other, from a random start: consecutive picks differ."""
        key = repr(values)
        if key not in self.turns:
            self.turns[key] = self.rng.randrange(len(values))
        turn = self.turns[key]
        self.turns[key] = turn + 1
        return values[turn % len(values)]

    def _integer(self, schema: Mapping[str, Any], depth: int) -> int:
        low, high = _bounds(schema, 0, 10, step=1)
        step = schema.get("multipleOf")
        value = self.rng.randint(int(low), max(int(low), int(high)))
        if isinstance(step, int) and step > 0:
            value = -(-value // step) * step
        return value

    def _number(self, schema: Mapping[str, Any], depth: int) -> float:
        low, high = _bounds(schema, 0.0, 1.0, step=0.01)
        if isinstance(schema.get("multipleOf"), (int, float)):
            return float(self._integer({"minimum": low, "maximum": high, "multipleOf": 1}, depth))
        return round(self.rng.uniform(low, max(low, high)), 2)

    def _boolean(self, schema: Mapping[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, schema: Mapping[str, Any], depth: int) -> None:
        return None


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        return "object"
    return kind if isinstance(kind, str) else None


def _first_non_null(options: Sequence[Any], resolve: Any) -> Any:
    for option in options:
        if not (isinstance(option, Mapping) and resolve(option).get("type") == "null"):
            return option
    return options[0]


def _bounds(schema: Mapping[str, Any], low: float, high: float, step: float) -> tuple[float, float]:
    """The inclusive range a number may take; the default range moves to meet a lone bound."""
    span = high - low
    given_low = given_high = False
    for key, shift in (("minimum", 0.0), ("exclusiveMinimum", step)):
        if isinstance(schema.get(key), (int, float)) and not isinstance(schema[key], bool):
            low, given_low = schema[key] + shift, True
    for key, shift in (("maximum", 0.0), ("exclusiveMaximum", step)):
        if isinstance(schema.get(key), (int, float)) and not isinstance(schema[key], bool):
            high, given_high = schema[key] - shift, True
    if high < low:
        if given_high and not given_low:
            low = high - span
        else:
            high = low + span if not given_high else low
    return low, high
