"""Usage, cost and observability: the wrapper every facade call goes through.

- `tracker`: the process's usage totals, `track_usage()` scopes and budgets;
- `table`: the records and the report they add up to (`usage_table()`);
- `prices` and `prices.json`: the price table and the cost of a reply;
- `observed`: `ObservedAdapter`, which records each call, prices it and fires hooks;
- `observability`: hooks, logging summaries and OpenTelemetry spans.

The names users import (``from persona_llm.usage import track_usage``) are re-exported here;
`usage_report()` and `reset_usage()`, which read the container's tracker, live on the public
surface (``from persona_llm import usage_report``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_llm._lazy import lazy_exports

if TYPE_CHECKING:
    from persona_llm.usage.threads import ContextThreadPoolExecutor
    from persona_llm.usage.tracker import (
        BudgetExceededError,
        ModelStats,
        UsageRecord,
        UsageReport,
        UsageScope,
        UsageTracker,
        active_scopes,
        current_task,
        track_usage,
        usage_table,
    )

__all__ = [
    "BudgetExceededError",
    "ContextThreadPoolExecutor",
    "ModelStats",
    "UsageRecord",
    "UsageReport",
    "UsageScope",
    "UsageTracker",
    "active_scopes",
    "current_task",
    "track_usage",
    "usage_table",
]

# Imported on first use: a first call loads only the modules it needs.
__getattr__ = lazy_exports(
    __name__,
    {
        "ContextThreadPoolExecutor": "threads",
        "BudgetExceededError": "tracker",
        "ModelStats": "tracker",
        "UsageRecord": "tracker",
        "UsageReport": "tracker",
        "UsageScope": "tracker",
        "UsageTracker": "tracker",
        "active_scopes": "tracker",
        "current_task": "tracker",
        "track_usage": "tracker",
        "usage_table": "tracker",
    },
)
