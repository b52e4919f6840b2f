"""Usage and cost tracking: a tracker for the process, scopes for one block, budgets.

Every observed call (see `persona_llm.usage.observed.ObservedAdapter`) becomes a `UsageRecord`
that the `UsageTracker` adds to its totals per provider, model and task label, and to every
`track_usage()` scope open in the caller's context::

    with track_usage(budget_usd=0.50) as scope:   # e.g. one web request
        answer = get_chat_client().chat(messages)
    scope.cost_usd, scope.calls, scope.total_tokens

Scopes live in a `contextvars.ContextVar`: a scope sees the calls made in its own thread or
asyncio task (and in tasks started inside it, which copy the context), never the calls of
other threads or tasks running at the same time. A plain ``threading.Thread`` or an executor
started inside a scope does not inherit it (``asyncio.to_thread`` does).

Budgets: the cost of a call is known only after it returns, so a budget cannot stop the call
that crosses it. The rule is: **a call is refused with `BudgetExceededError`, before anything
is sent, when the scope's spend so far is already at or above its budget.** The call that
crosses the limit completes; the overshoot is at most the cost of the calls in flight at that
moment. Under a budget, a call to a model with no known price is refused with
`ConfigurationError` (its spend could not be counted) unless ``allow_unpriced=True``; failed
calls add no cost.

Keyed budgets (``track_usage(budget_usd=5, key="user:42", period="day")``) count the spend
in the state store (``LLM_STATE``) instead, so every worker and every restart share it; see
`persona_llm.state.budgets` for the periods and the overshoot bound, and
``usage_report(key=...)`` to read it. ``user=`` and ``tenant=`` label the block's records.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from persona_llm.errors import ConfigurationError, LLMError
from persona_llm.usage.table import (
    ModelStats,
    RunningStats,
    UsageRecord,
    UsageReport,
    usage_table,
)

if TYPE_CHECKING:
    from persona_llm.state.budgets import KeyedUsage

__all__ = [
    "BudgetExceededError",
    "ModelStats",
    "UsageRecord",
    "UsageReport",
    "UsageScope",
    "UsageTracker",
    "active_scopes",
    "current_label",
    "current_task",
    "track_usage",
    "usage_table",
]


class BudgetExceededError(LLMError):
    """A call was refused because its usage scope had already spent its budget.

    Raised before the call is sent, so nothing was billed for it.

    Attributes:
        budget_usd: the scope's limit.
        spent_usd: what the scope had spent when the call was refused.
    """

    def __init__(self, message: str, *, budget_usd: float, spent_usd: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd


class _Ledger:
    """Totals keyed by (provider, model, task), safe to update from any thread or task."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str, str | None], RunningStats] = {}
        self._spent = 0.0

    def add(self, record: UsageRecord) -> None:
        key = (record.provider, record.model, record.task)
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = RunningStats(*key)
            row.add(record)
            self._spent += record.cost_usd or 0.0

    def spent(self) -> float:
        with self._lock:
            return self._spent

    def report(self) -> UsageReport:
        with self._lock:
            rows = [row.stats() for row in self._rows.values()]
        rows.sort(key=lambda r: (r.provider, r.model, r.task or ""))
        return UsageReport(tuple(rows))

    def reset(self) -> None:
        with self._lock:
            self._rows.clear()
            self._spent = 0.0


class UsageScope:
    """The totals of one `track_usage()` block, with an optional budget.

    Args:
        budget_usd: refuse calls once this much has been spent (see the module docstring).
        task: a label for the calls made inside (innermost labelled scope wins).
        allow_unpriced: under a budget, let calls to models with no known price through.
        key: count the spend in the state store under this key (across workers).
        period: with `key`: ``minute``, ``hour``, ``day`` or ``month`` (UTC); None: ever.
        user, tenant: labels for the calls' usage records.
    """

    def __init__(
        self,
        budget_usd: float | None = None,
        *,
        task: str | None = None,
        allow_unpriced: bool = False,
        key: str | None = None,
        period: str | None = None,
        user: str | None = None,
        tenant: str | None = None,
    ) -> None:
        if budget_usd is not None and (
            isinstance(budget_usd, bool)
            or not isinstance(budget_usd, (int, float))
            or not budget_usd >= 0  # NaN too
        ):
            raise ConfigurationError(f"budget_usd must be a number >= 0 (USD), got {budget_usd!r}")
        if period is not None and key is None:
            raise ConfigurationError("period= needs key=: only keyed budgets have periods")
        if period is not None:
            from persona_llm.state.budgets import check_period

            check_period(period)
        self.budget_usd = budget_usd
        self.task = task
        self.allow_unpriced = allow_unpriced
        self.key, self.period = key, period
        self.user, self.tenant = user, tenant
        self._ledger = _Ledger()

    def report(self) -> UsageReport:
        """Totals so far, per provider/model/task."""
        return self._ledger.report()

    @property
    def cost_usd(self) -> float:
        """Known spend so far."""
        return self._ledger.spent()

    @property
    def remaining_usd(self) -> float | None:
        """Budget left (never negative), or None without a budget."""
        if self.budget_usd is None:
            return None
        return max(self.budget_usd - self.cost_usd, 0.0)

    @property
    def calls(self) -> int:
        """Calls made so far (failed ones included)."""
        return self.report().total.calls

    @property
    def errors(self) -> int:
        """Calls that failed."""
        return self.report().total.errors

    @property
    def total_tokens(self) -> int:
        """Tokens used so far."""
        return self.report().total.total_tokens

    def check(self, provider: str, model: str, *, priced: bool) -> None:
        """Refuse a call that this scope's budget does not allow.

        Raises:
            BudgetExceededError: the spend so far has reached the budget.
            ConfigurationError: under a budget, the model has no price and unpriced calls
                are not allowed.
        """
        if self.budget_usd is None:
            return
        self._check_spent(self.cost_usd, provider, model, priced=priced)

    def _check_spent(self, spent: float, provider: str, model: str, *, priced: bool) -> None:
        assert self.budget_usd is not None
        if spent >= self.budget_usd:
            whose = f" for {self.key!r}" + (f" this {self.period}" if self.period else "")
            raise BudgetExceededError(
                f"usage budget of ${self.budget_usd:.6f}{whose if self.key else ''} reached "
                f"(spent ${spent:.6f}); the call was not sent",
                budget_usd=self.budget_usd,
                spent_usd=spent,
                provider=provider,
                model=model,
            )
        if not priced and not self.allow_unpriced:
            raise ConfigurationError(
                f"no price is known for {provider}/{model}, so a budget cannot count its cost; "
                "add it to LLM_PRICES_FILE / LLM_PRICES, or pass allow_unpriced=True",
                provider=provider,
                model=model,
            )

    def _add(self, record: UsageRecord) -> None:
        self._ledger.add(record)


class UsageTracker(UsageScope):
    """The process-wide totals (one per container), itself a scope with an optional budget.

    Thread-safe and asyncio-safe: `record` takes a lock for a few dictionary updates and
    never awaits, so any number of threads and tasks can record at once.
    """

    def __init__(
        self,
        budget_usd: float | None = None,
        *,
        allow_unpriced: bool = False,
        keyed: Callable[[], KeyedUsage] | None = None,
    ) -> None:
        super().__init__(budget_usd, allow_unpriced=allow_unpriced)
        self._keyed_factory = keyed
        self._own_keyed: KeyedUsage | None = None

    def keyed(self) -> KeyedUsage:
        """Where keyed scopes count: the container's state store, else one in memory."""
        if self._keyed_factory is not None:
            return self._keyed_factory()
        if self._own_keyed is None:
            from persona_llm.state.budgets import KeyedUsage
            from persona_llm.state.guard import StoreGuard
            from persona_llm.state.memory import MemoryStore

            self._own_keyed = KeyedUsage(MemoryStore(), StoreGuard("memory"))
        return self._own_keyed

    def record(self, record: UsageRecord) -> None:
        """Add a finished call to the totals and to every scope open in this context."""
        self._ledger.add(record)  # `_add`, inline: every call records
        for scope in _ACTIVE_SCOPES.get():
            scope._add(record)
            if scope.key is not None:
                self.keyed().add(scope.key, scope.period, record)

    def budgeted(self) -> bool:
        """Whether this tracker or a scope open in this context has a budget to check."""
        scopes = active_scopes()  # usually none: skip building a generator
        return self.budget_usd is not None or (
            bool(scopes) and any(scope.budget_usd is not None for scope in scopes)
        )

    def check_budget(self, provider: str, model: str, *, priced: bool) -> None:
        """Refuse a call that this tracker's or an open scope's budget does not allow."""
        self.check(provider, model, priced=priced)
        for scope in active_scopes():
            if scope.key is None or scope.budget_usd is None:
                scope.check(provider, model, priced=priced)
                continue
            spent = self.keyed().spent(scope.key, scope.period, provider, model)
            if spent is not None:  # None: the store failed and LLM_STATE_ON_ERROR=open
                scope._check_spent(spent, provider, model, priced=priced)

    def reset(self) -> None:
        """Forget every total (open scopes keep theirs)."""
        self._ledger.reset()


_ACTIVE_SCOPES: contextvars.ContextVar[tuple[UsageScope, ...]] = contextvars.ContextVar(
    "persona_llm_usage_scopes", default=()
)


def active_scopes() -> tuple[UsageScope, ...]:
    """The scopes open in the current context, outermost first."""
    return _ACTIVE_SCOPES.get()


def current_task() -> str | None:
    """The task label of the innermost labelled scope, if any."""
    for scope in reversed(_ACTIVE_SCOPES.get()):
        if scope.task:
            return scope.task
    return None


def current_label(name: str) -> str | None:
    """The ``user`` or ``tenant`` label of the innermost scope that sets it, if any."""
    for scope in reversed(_ACTIVE_SCOPES.get()):
        value: str | None = getattr(scope, name)
        if value:
            return value
    return None


@contextmanager
def track_usage(
    budget_usd: float | None = None,
    *,
    task: str | None = None,
    allow_unpriced: bool = False,
    key: str | None = None,
    period: str | None = None,
    user: str | None = None,
    tenant: str | None = None,
) -> Iterator[UsageScope]:
    """Collect the usage of the calls made inside the block (and optionally cap its spend).

    Args:
        budget_usd: refuse further calls once the block (or, with `key`, the key) has spent
            this much.
        task: label the block's calls (reported per provider/model/task).
        allow_unpriced: under a budget, allow models with no known price.
        key: count spend in the state store under this key, shared by every worker and
            kept across restarts (with a Redis ``LLM_STATE``); the budget applies to it.
        period: with `key`: ``minute``, ``hour``, ``day`` or ``month`` (UTC); None: ever.
        user, tenant: labels carried by the block's usage records.
    """
    scope = UsageScope(
        budget_usd,
        task=task,
        allow_unpriced=allow_unpriced,
        key=key,
        period=period,
        user=user,
        tenant=tenant,
    )
    token = _ACTIVE_SCOPES.set((*_ACTIVE_SCOPES.get(), scope))
    try:
        yield scope
    finally:
        _ACTIVE_SCOPES.reset(token)
