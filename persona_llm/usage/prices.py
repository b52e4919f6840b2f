"""Prices per model, and the arithmetic that turns a `Usage` into US dollars.

The packaged table (``persona_llm/usage/prices.json``) carries its date (`PriceTable.as_of`)
and where its figures come from. A user file (``LLM_PRICES_FILE``) or inline JSON
(``LLM_PRICES``) of the same shape is laid over it, model by model. A model that is in no
table has no cost: `cost_of` returns None, never a guess.

How one call is priced (USD per million tokens)::

    uncached   = prompt_tokens - cached_tokens - cache_write_tokens
    cost       = uncached * input + cached_tokens * cached_input
               + cache_write_tokens * cache_write
               + (completion_tokens - reasoning_tokens) * output
               + reasoning_tokens * reasoning            # reasoning defaults to output

Every provider's normalized `Usage` counts cached tokens (and Anthropic's cache writes) inside
``prompt_tokens`` and reasoning tokens inside ``completion_tokens``, so one formula serves all.
A token category that is non-zero but has no price in the entry makes the cost unknown
(None). A `long_context` tier prices every token of a request whose prompt is larger than its
threshold (Gemini 2.5 Pro above 200k tokens). Dated entries (``from``/``until``) are chosen by
the UTC date of the call.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from persona_llm.errors import ConfigurationError
from persona_llm.types import Usage

__all__ = ["ModelPrice", "PriceTable", "cost_of", "default_prices", "load_prices", "usage_cost"]

_MILLION = 1_000_000
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
_SECONDS_PER_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)
_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")


@dataclass(frozen=True)
class ModelPrice:
    """One model's prices in USD per million tokens; None means "not known"."""

    input: float
    output: float | None = None
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    long_context_above: int | None = None
    long_context: ModelPrice | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def applies_on(self, day: dt.date) -> bool:
        """Whether this price is in force on `day` (both bounds inclusive)."""
        after_start = self.valid_from is None or day >= self.valid_from
        before_end = self.valid_until is None or day <= self.valid_until
        return after_start and before_end


def usage_cost(price: ModelPrice, usage: Usage) -> float | None:
    """The cost of `usage` at `price`, or None when a non-zero token category has no price."""
    if price.long_context is not None and usage.prompt_tokens > (price.long_context_above or 0):
        price = price.long_context
    cache_write = int(getattr(usage, "cache_write_tokens", 0) or 0)
    uncached = max(usage.prompt_tokens - usage.cached_tokens - cache_write, 0)
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    parts = (
        (uncached, price.input),
        (usage.cached_tokens, price.cached_input),
        (cache_write, price.cache_write),
        (usage.completion_tokens - reasoning, price.output),
        (reasoning, price.reasoning if price.reasoning is not None else price.output),
    )
    total = 0.0
    for tokens, per_million in parts:
        if tokens <= 0:
            continue
        if per_million is None:
            return None
        total += tokens * per_million
    return total / _MILLION


class PriceTable:
    """Prices by provider and model, with the date of the figures.

    Model names are matched exactly, then without a trailing date (``gpt-4o-mini-2024-07-18``
    → ``gpt-4o-mini``, ``claude-haiku-4-5-20251001`` → ``claude-haiku-4-5``) and without a
    ``models/`` prefix; ``*`` stands for every model of a provider.
    """

    def __init__(
        self,
        prices: Mapping[str, Mapping[str, Sequence[ModelPrice]]],
        *,
        as_of: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self._prices = {p: {m: tuple(v) for m, v in models.items()} for p, models in prices.items()}
        self.as_of = as_of
        self.notes = tuple(notes)
        # lookup() runs twice per call: remember answers (a plain dict; races only recompute).
        self._found: dict[tuple[str, str, dt.date | int], ModelPrice | None] = {}

    def providers(self) -> list[str]:
        """Provider names that have at least one price."""
        return sorted(self._prices)

    def models(self, provider: str) -> list[str]:
        """Model names priced for `provider`."""
        return sorted(self._prices.get(provider, {}))

    def lookup(self, provider: str, model: str, on: dt.date | None = None) -> ModelPrice | None:
        """The price in force for provider/model on a date (today, UTC, by default)."""
        models = self._prices.get(provider)
        if not models or not model:
            return None
        # Today is keyed by its UTC day number: cheaper than building a date on every call.
        when: dt.date | int = on or int(time.time() // _SECONDS_PER_DAY)
        key = (provider, model, when)
        try:
            return self._found[key]
        except KeyError:
            pass
        day = when if isinstance(when, dt.date) else _EPOCH + dt.timedelta(days=when)
        if len(self._found) > 4096:  # model names come from replies: keep it bounded
            self._found.clear()
        found = self._found[key] = self._find(models, model, day)
        return found

    @staticmethod
    def _find(
        models: Mapping[str, tuple[ModelPrice, ...]], model: str, day: dt.date
    ) -> ModelPrice | None:
        for name in _candidates(model):
            entries = models.get(name)
            if entries:
                return next((e for e in entries if e.applies_on(day)), None)
        return None

    def cost(
        self, provider: str, models: Sequence[str | None], usage: Usage | None, on: dt.date | None
    ) -> float | None:
        """Cost of `usage` for the first of `models` that has a price, else None."""
        if usage is None:
            return None
        for model in models:
            price = self.lookup(provider, model, on) if model else None
            if price is not None:
                return usage_cost(price, usage)
        return None

    def merged(self, other: PriceTable) -> PriceTable:
        """This table with `other`'s entries laid over it, model by model."""
        prices = {p: dict(models) for p, models in self._prices.items()}
        for provider, models in other._prices.items():
            prices.setdefault(provider, {}).update(models)
        return PriceTable(prices, as_of=other.as_of or self.as_of, notes=self.notes + other.notes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "prices") -> PriceTable:
        """Parse the JSON shape of ``prices.json`` (a bare ``{provider: {model: ...}}`` too).

        Raises:
            ConfigurationError: a price is missing, negative or not a number; the message
                names `source` and the provider/model.
        """
        providers = data.get("providers", data)
        if not isinstance(providers, Mapping):
            raise ConfigurationError(f"{source}: 'providers' must be an object")
        table: dict[str, dict[str, tuple[ModelPrice, ...]]] = {}
        for provider, models in providers.items():
            if provider in {"as_of", "currency", "unit", "notes"}:
                continue
            if not isinstance(models, Mapping):
                raise ConfigurationError(f"{source}: {provider!r} must map model names to prices")
            table[provider] = {
                model: _parse_entries(entry, f"{source}: {provider}/{model}")
                for model, entry in models.items()
            }
        notes = data.get("notes", ())
        return cls(
            table, as_of=data.get("as_of"), notes=[notes] if isinstance(notes, str) else notes
        )


def _candidates(model: str) -> list[str]:
    name = model.removeprefix("models/")
    names = [model, name, _DATE_SUFFIX.sub("", name), "*"]
    return list(dict.fromkeys(names))


def _parse_entries(entry: Any, where: str) -> tuple[ModelPrice, ...]:
    entries = entry if isinstance(entry, list) else [entry]
    return tuple(_parse_price(item, where) for item in entries)


def _parse_price(item: Any, where: str) -> ModelPrice:
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"{where}: a price must be an object like {{'input': 0.15}}")
    values = {name: _number(item.get(name), f"{where}.{name}") for name in _PRICE_FIELDS}
    input_price = values.pop("input")
    if input_price is None:
        raise ConfigurationError(f"{where}: 'input' (USD per million input tokens) is required")
    long_context = None
    above = None
    if "long_context" in item:
        tier = item["long_context"]
        if not isinstance(tier, Mapping) or not isinstance(tier.get("above_prompt_tokens"), int):
            raise ConfigurationError(f"{where}.long_context needs 'above_prompt_tokens' (int)")
        above = tier["above_prompt_tokens"]
        long_context = _parse_price({k: v for k, v in tier.items() if k in _PRICE_FIELDS}, where)
    return ModelPrice(
        input=input_price,
        **values,
        long_context_above=above,
        long_context=long_context,
        valid_from=_date(item.get("from"), f"{where}.from"),
        valid_until=_date(item.get("until"), f"{where}.until"),
    )


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"{where} must be a non-negative number, got {value!r}")
    return float(value)


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(
            f"{where} must be an ISO date (YYYY-MM-DD), got {value!r}"
        ) from None


@functools.lru_cache(maxsize=1)
def default_prices() -> PriceTable:
    """The packaged price table (read once)."""
    text = resources.files("persona_llm.usage").joinpath("prices.json").read_text("utf-8")
    return PriceTable.from_dict(json.loads(text), "persona_llm/usage/prices.json")


def load_prices(
    file: str | Path | None = None, overrides: str | Mapping[str, Any] | None = None
) -> PriceTable:
    """The packaged table, with a user file and then inline overrides laid over it.

    Args:
        file: a JSON file of the packaged shape (``LLM_PRICES_FILE``).
        overrides: JSON text or a mapping of the same shape (``LLM_PRICES``).

    Raises:
        ConfigurationError: the file cannot be read, or is not valid JSON of that shape.
    """
    table = default_prices()
    if file:
        path = Path(file)
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"LLM_PRICES_FILE={str(path)!r} cannot be used: {exc}"
            ) from None
        table = table.merged(_table(data, f"LLM_PRICES_FILE {path}"))
    if overrides:
        if isinstance(overrides, str):
            try:
                overrides = json.loads(overrides)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"LLM_PRICES is not valid JSON: {exc}") from None
        table = table.merged(_table(overrides, "LLM_PRICES"))
    return table


def _table(data: Any, source: str) -> PriceTable:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: expected a JSON object of providers and models")
    return PriceTable.from_dict(data, source)


def cost_of(
    provider: str,
    model: str,
    usage: Usage | None,
    *,
    prices: PriceTable | None = None,
    on: dt.date | None = None,
) -> float | None:
    """USD cost of one call's usage, or None when the model (or a token category) is unpriced."""
    return (prices or default_prices()).cost(provider, [model], usage, on)
