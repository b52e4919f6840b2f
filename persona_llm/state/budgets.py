"""Keyed usage and budgets in the store: ``track_usage(budget_usd=5, key="user:42",
period="day")``.

The spend of a key is counted in the store, so every worker and every restart sees the same
total: one hash per key and period (``minute``, ``hour``, ``day``, ``month`` in UTC, or none
for ever), incremented in one ``MULTI`` transaction per call with the call's real cost and
tokens, and expiring when its period is over.

The check stays before the call and the spend is added after it, so concurrent calls under
one key can overshoot the budget by at most the cost of the calls in flight when it was
reached: with N calls running at once, each costing at most C, the total stays within
``budget + N * C``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from persona_llm.errors import ConfigurationError
from persona_llm.state.guard import StoreGuard
from persona_llm.state.store import StateStore, StoreError
from persona_llm.usage.table import ModelStats, UsageRecord, UsageReport

__all__ = ["PERIODS", "KeyedUsage", "Period", "check_period"]

Period = Literal["minute", "hour", "day", "month"]
PERIODS = ("minute", "hour", "day", "month")
_COUNTED = ("calls", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")
_FORMATS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m"}


def check_period(period: str | None) -> None:
    """Raise `ConfigurationError` unless `period` is one of `PERIODS` or None."""
    if period is not None and period not in PERIODS:
        raise ConfigurationError(
            f"period must be one of {', '.join(PERIODS)} (or None), got {period!r}"
        )


def _period_end(period: str, now: datetime) -> datetime:
    start = now.replace(second=0, microsecond=0)
    if period == "minute":
        return start + timedelta(minutes=1)
    start = start.replace(minute=0)
    if period == "hour":
        return start + timedelta(hours=1)
    start = start.replace(hour=0)
    if period == "day":
        return start + timedelta(days=1)
    start = start.replace(day=1)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


class KeyedUsage:
    """Spend and usage per key (and period) in the store.

    Args:
        store: where the counters live.
        guard: ``LLM_STATE_ON_ERROR`` when the store fails.
        now: the current UTC time (tests pass a fixed one).
    """

    def __init__(
        self,
        store: StateStore,
        guard: StoreGuard,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.store = store
        self.guard = guard
        self._now = now

    def _where(self, key: str, period: str | None) -> tuple[str, float | None]:
        """The store key of `key` in the current period, and its time to live."""
        if period is None:
            return f"usage:{key}:all", None
        now = self._now()
        end = _period_end(period, now)
        return f"usage:{key}:{period}:{now.strftime(_FORMATS[period])}", (
            (end - now).total_seconds() + 60
        )

    def spent(self, key: str, period: str | None, provider: str, model: str) -> float | None:
        """The key's spend this period; None when the store failed and calls proceed."""
        where, _ = self._where(key, period)
        try:
            counters = self.guard.run("read a budget", lambda: self.store.read_usage(where))
        except StoreError as error:
            self.guard.failed(error, "read a budget", provider, model)
            return None
        return counters.get("cost_usd", 0.0)

    def add(self, key: str, period: str | None, record: UsageRecord) -> None:
        """Count a finished call under `key` (never raises: the call already happened)."""
        where, ttl = self._where(key, period)
        row = f"{record.provider}/{record.model}"
        usage = record.usage
        amounts = {
            "calls": 1.0,
            "errors": 0.0 if record.ok else 1.0,
            "prompt_tokens": float(usage.prompt_tokens) if usage else 0.0,
            "completion_tokens": float(usage.completion_tokens) if usage else 0.0,
            "total_tokens": float(usage.total_tokens) if usage else 0.0,
            "cost_usd": record.cost_usd or 0.0,
        }
        counters = {f"{row}|{name}": value for name, value in amounts.items() if value}
        counters["cost_usd"] = amounts["cost_usd"]
        try:
            self.guard.run("add to a budget", lambda: self.store.add_usage(where, counters, ttl))
        except StoreError as error:
            self.guard.note(error, "add to a budget")

    def report(self, key: str, period: str | None) -> UsageReport:
        """The key's totals this period, one row per provider/model."""
        where, _ = self._where(key, period)
        counters = self.store.read_usage(where)  # a report is asked for: errors propagate
        rows: dict[str, dict[str, float]] = {}
        for name, value in counters.items():
            row, sep, field = name.rpartition("|")
            if sep and field in _COUNTED:
                rows.setdefault(row, {})[field] = value
        stats = []
        for row, values in sorted(rows.items()):
            provider, _, model = row.partition("/")
            count: dict[str, Any] = {f: int(values.get(f, 0)) for f in _COUNTED[:-1]}
            count["cost_usd"] = values.get("cost_usd", 0.0)
            stats.append(dataclasses.replace(ModelStats(provider, model), **count))
        return UsageReport(tuple(stats))
