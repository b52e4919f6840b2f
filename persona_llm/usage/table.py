"""Usage reports: one record per call, totals per provider/model/task, and a text table.

`persona_llm.usage.tracker` builds these; `usage_table` renders a report for the CLI and the demo.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from persona_llm.types import Usage

__all__ = ["ModelStats", "UsageRecord", "UsageReport", "usage_table"]


@dataclass(frozen=True)
class UsageRecord:
    """One finished call: what it used, cost and took. `error` is the exception's class name.

    The state features add: `cache` (``"hit"``/``"miss"``, None without a cache),
    `waited_s` (seconds waiting for rate-limit room), `limited` (the local limit that
    refused the call), `store_errors` (state store failures during the call); `user` and
    `tenant` are the labels of the ``track_usage()`` block.
    """

    provider: str
    model: str
    operation: str
    latency_s: float
    usage: Usage | None = None
    cost_usd: float | None = None
    error: str | None = None
    task: str | None = None
    response_model: str | None = None
    cache: str | None = None
    waited_s: float = 0.0
    limited: str | None = None
    store_errors: int = 0
    user: str | None = None
    tenant: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None


@dataclass(frozen=True)
class ModelStats:
    """Totals of the calls to one provider/model (and task label).

    `cost_usd` adds the known costs; `unpriced_calls` counts successful calls whose cost is
    unknown, so when it is non-zero `cost_usd` is a lower bound.
    """

    provider: str = ""
    model: str = ""
    task: str | None = None
    calls: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    latency_s_total: float = 0.0
    latency_s_max: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    limiter_waits: int = 0
    limiter_wait_s: float = 0.0
    rate_limited_locally: int = 0
    store_errors: int = 0

    @property
    def avg_latency_s(self) -> float:
        """Mean latency of the calls (0 when there were none)."""
        return self.latency_s_total / self.calls if self.calls else 0.0

    @property
    def cost_known(self) -> bool:
        """Whether every successful call had a known cost."""
        return self.unpriced_calls == 0

    def add(self, record: UsageRecord) -> ModelStats:
        """These totals with one more call."""
        running = RunningStats.of(self)
        running.add(record)
        return running.stats()

    def plus(self, other: ModelStats) -> ModelStats:
        """The sum of two totals (labels of `self` kept)."""
        return dataclasses.replace(
            self,
            calls=self.calls + other.calls,
            errors=self.errors + other.errors,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
            latency_s_total=self.latency_s_total + other.latency_s_total,
            latency_s_max=max(self.latency_s_max, other.latency_s_max),
            cache_hits=self.cache_hits + other.cache_hits,
            cache_misses=self.cache_misses + other.cache_misses,
            limiter_waits=self.limiter_waits + other.limiter_waits,
            limiter_wait_s=self.limiter_wait_s + other.limiter_wait_s,
            rate_limited_locally=self.rate_limited_locally + other.rate_limited_locally,
            store_errors=self.store_errors + other.store_errors,
        )


class RunningStats:
    """Mutable totals of one provider/model/task, updated in place on every call.

    The usage ledger keeps these under its lock and hands out frozen `ModelStats` only when
    a report is asked for: rebuilding a 14-field frozen dataclass per call cost a tenth of
    the usage wrapper's time.
    """

    __slots__ = _STAT_FIELDS = (
        "provider",
        "model",
        "task",
        "calls",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_usd",
        "unpriced_calls",
        "latency_s_total",
        "latency_s_max",
        "cache_hits",
        "cache_misses",
        "limiter_waits",
        "limiter_wait_s",
        "rate_limited_locally",
        "store_errors",
    )

    def __init__(self, provider: str, model: str, task: str | None) -> None:
        self.provider, self.model, self.task = provider, model, task
        self.calls = self.errors = self.unpriced_calls = 0
        self.prompt_tokens = self.completion_tokens = self.total_tokens = 0
        self.cached_tokens = self.reasoning_tokens = 0
        self.cost_usd = self.latency_s_total = self.latency_s_max = 0.0
        self.cache_hits = self.cache_misses = self.limiter_waits = 0
        self.rate_limited_locally = self.store_errors = 0
        self.limiter_wait_s = 0.0

    @classmethod
    def of(cls, stats: ModelStats) -> RunningStats:
        """Running totals that start from `stats`."""
        running = cls.__new__(cls)
        for name in cls._STAT_FIELDS:
            setattr(running, name, getattr(stats, name))
        return running

    def add(self, record: UsageRecord) -> None:
        """Count one more call."""
        self.calls += 1
        self.latency_s_total += record.latency_s
        if record.latency_s > self.latency_s_max:
            self.latency_s_max = record.latency_s
        if record.error is not None:
            self.errors += 1
        elif record.cost_usd is None:
            self.unpriced_calls += 1
        if record.cost_usd is not None:
            self.cost_usd += record.cost_usd
        if record.cache is not None or record.waited_s or record.limited or record.store_errors:
            self._add_state(record)
        usage = record.usage
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.cached_tokens += usage.cached_tokens
            self.reasoning_tokens += usage.reasoning_tokens
            self.total_tokens += usage.total_tokens

    def _add_state(self, record: UsageRecord) -> None:
        if record.cache == "hit":
            self.cache_hits += 1
        elif record.cache == "miss":
            self.cache_misses += 1
        if record.waited_s:
            self.limiter_waits += 1
            self.limiter_wait_s += record.waited_s
        if record.limited:
            self.rate_limited_locally += 1
        self.store_errors += record.store_errors

    def stats(self) -> ModelStats:
        """A frozen snapshot."""
        return ModelStats(*(getattr(self, name) for name in self._STAT_FIELDS))


@dataclass(frozen=True)
class UsageReport:
    """A snapshot of totals: one row per provider/model/task, sorted."""

    rows: tuple[ModelStats, ...] = ()

    @property
    def total(self) -> ModelStats:
        """Every row added up."""
        total = ModelStats()
        for row in self.rows:
            total = total.plus(row)
        return total

    def get(self, provider: str, model: str, task: str | None = None) -> ModelStats | None:
        """The row of one provider/model/task, if it had calls."""
        key = (provider, model, task)
        return next((r for r in self.rows if (r.provider, r.model, r.task) == key), None)

    def for_provider(self, provider: str) -> ModelStats:
        """The rows of one provider added up."""
        total = ModelStats(provider=provider)
        for row in self.rows:
            if row.provider == provider:
                total = total.plus(row)
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON output or metrics)."""
        return {
            "rows": [dataclasses.asdict(row) for row in self.rows],
            "total": dataclasses.asdict(self.total),
        }


def _cost_cell(stats: ModelStats) -> str:
    if stats.calls - stats.errors > 0 and stats.unpriced_calls == stats.calls - stats.errors:
        return "n/a"
    return f"{stats.cost_usd:.6f}" + ("*" if stats.unpriced_calls else "")


def _cells(label: list[str], stats: ModelStats) -> list[str]:
    return [
        *label,
        f"{stats.calls:,}",
        f"{stats.errors:,}",
        f"{stats.prompt_tokens:,}",
        f"{stats.completion_tokens:,}",
        f"{stats.cached_tokens:,}",
        f"{stats.reasoning_tokens:,}",
        _cost_cell(stats),
        f"{stats.avg_latency_s:.2f}s",
    ]


def _state_lines(total: ModelStats) -> list[str]:
    """A line on the cache, the limiter and the store, when any of them did something."""
    parts = []
    if total.cache_hits or total.cache_misses:
        parts.append(f"cache {total.cache_hits} hit(s), {total.cache_misses} miss(es)")
    if total.limiter_waits:
        parts.append(
            f"rate limiter waited {total.limiter_wait_s:.2f}s over {total.limiter_waits} call(s)"
        )
    if total.rate_limited_locally:
        parts.append(f"{total.rate_limited_locally} call(s) refused by LLM_RATE_LIMITS")
    if total.store_errors:
        parts.append(f"{total.store_errors} state store error(s)")
    return ["; ".join(parts)] if parts else []


def usage_table(report: UsageReport) -> str:
    """A plain-text table of a report, one line per provider/model(/task) and a total."""
    with_task = any(row.task for row in report.rows)
    labels = ["provider", "model", *(["task"] if with_task else [])]
    header = [*labels, "calls", "errors", "input", "output", "cached", "reasoning"]
    header += ["cost USD", "avg latency"]
    lines = [
        _cells([r.provider, r.model, *([r.task or "-"] if with_task else [])], r)
        for r in report.rows
    ]
    lines.append(_cells(["TOTAL", "", *([""] if with_task else [])], report.total))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def render(row: list[str]) -> str:
        text = [
            cell.ljust(widths[i]) if i < len(labels) else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(text).rstrip()

    out = [render(header), *(render(row) for row in lines)]
    out += _state_lines(report.total)
    if report.total.unpriced_calls:
        out.append(
            f"* {report.total.unpriced_calls} call(s) with no known cost (model not in the "
            "price table, or no token counts reported) are left out; n/a: none known"
        )
    return "\n".join(out)
