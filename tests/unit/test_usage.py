"""The usage tracker: totals under concurrency, scoped tracking, budgets, the report table."""

from __future__ import annotations

import asyncio
import threading

import pytest

from persona_llm import reset_usage, usage_report
from persona_llm.clients import ChatClient
from persona_llm.errors import ConfigurationError, LLMError, RateLimitError
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatMessage, ChatRequest, Usage
from persona_llm.usage.observed import ObservedAdapter
from persona_llm.usage.prices import PriceTable
from persona_llm.usage.tracker import (
    BudgetExceededError,
    ModelStats,
    UsageRecord,
    UsageReport,
    UsageTracker,
    active_scopes,
    current_task,
    track_usage,
    usage_table,
)

# $1 per million input tokens, $2 per million output tokens: easy to check by hand.
PRICES = PriceTable.from_dict({"fake": {"priced": {"input": 1.0, "output": 2.0}}})
MODEL = "priced"


def ask(text: str = "one two three") -> ChatRequest:
    """A request whose prompt is len(text.split()) fake tokens; the echo reply as many."""
    return ChatRequest(messages=(ChatMessage(role="user", content=text),))


def observed(
    fake: FakeProvider | None = None, tracker: UsageTracker | None = None
) -> ObservedAdapter:
    return ObservedAdapter(fake or FakeProvider(), tracker or UsageTracker(), prices=PRICES)


def cost(prompt: int, completion: int) -> float:
    return (prompt * 1.0 + completion * 2.0) / 1e6


def test_one_call_is_recorded_with_tokens_cost_and_latency() -> None:
    adapter = observed()
    adapter.chat(MODEL, ask())
    row = adapter.tracker.report().get("fake", MODEL)
    assert row is not None
    assert (row.calls, row.errors, row.prompt_tokens, row.completion_tokens) == (1, 0, 3, 3)
    assert row.total_tokens == 6
    assert row.cost_usd == pytest.approx(cost(3, 3))
    assert row.cost_known
    assert row.latency_s_max >= 0 and row.avg_latency_s == row.latency_s_total


def test_totals_are_exact_under_32_concurrent_threads() -> None:
    adapter = observed()
    calls_per_thread = 25
    barrier = threading.Barrier(32)
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for _ in range(calls_per_thread):
                adapter.chat(MODEL, ask(" ".join(["w"] * (index % 5 + 1))))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    total = adapter.tracker.report().total
    tokens = sum((i % 5 + 1) * calls_per_thread for i in range(32))
    assert total.calls == 32 * calls_per_thread
    assert total.prompt_tokens == total.completion_tokens == tokens
    assert total.cost_usd == pytest.approx(cost(tokens, tokens))
    assert adapter.tracker.cost_usd == pytest.approx(cost(tokens, tokens))


async def test_totals_are_exact_under_asyncio_concurrency() -> None:
    adapter = observed(FakeProvider(delay=0.001))
    await asyncio.gather(*(adapter.achat(MODEL, ask("a b")) for _ in range(200)))
    total = adapter.tracker.report().total
    assert (total.calls, total.prompt_tokens, total.completion_tokens) == (200, 400, 400)
    assert adapter.inner.max_in_flight > 1  # the calls really overlapped


def test_scopes_in_concurrent_threads_see_only_their_own_calls() -> None:
    adapter = observed()
    barrier = threading.Barrier(32)
    seen: dict[int, tuple[int, int]] = {}

    def worker(index: int) -> None:
        with track_usage() as scope:
            barrier.wait()
            for _ in range(index + 1):
                adapter.chat(MODEL, ask("x y"))
            barrier.wait()  # every thread is still inside its scope here
            seen[index] = (scope.calls, scope.total_tokens)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {i: (i + 1, (i + 1) * 4) for i in range(32)}
    assert adapter.tracker.report().total.calls == sum(range(1, 33))


async def test_scopes_in_concurrent_tasks_see_only_their_own_calls() -> None:
    adapter = observed(FakeProvider(delay=0.001))

    async def job(n: int) -> int:
        with track_usage() as scope:
            for _ in range(n):
                await adapter.achat(MODEL, ask())
            return scope.calls

    assert await asyncio.gather(*(job(n) for n in range(1, 21))) == list(range(1, 21))
    assert active_scopes() == ()


async def test_tasks_started_inside_a_scope_count_in_it() -> None:
    adapter = observed()
    with track_usage() as scope:
        await asyncio.gather(*(adapter.achat(MODEL, ask()) for _ in range(5)))
        await asyncio.to_thread(adapter.chat, MODEL, ask())
    assert scope.calls == 6


def test_nested_scopes_both_count_and_the_innermost_task_label_wins() -> None:
    tracker = UsageTracker()
    adapter = observed(tracker=tracker)
    with track_usage(task="request") as outer:
        adapter.chat(MODEL, ask())
        with track_usage(task="summarize") as inner:
            assert current_task() == "summarize"
            adapter.chat(MODEL, ask())
        with track_usage():
            assert current_task() == "request"
    assert (outer.calls, inner.calls) == (2, 1)
    assert current_task() is None
    report = tracker.report()
    assert report.get("fake", MODEL, "request").calls == 1  # type: ignore[union-attr]
    assert report.get("fake", MODEL, "summarize").calls == 1  # type: ignore[union-attr]


def test_errors_are_counted_and_add_no_cost() -> None:
    fake = FakeProvider([RateLimitError("slow down", provider="fake"), "fine"])
    adapter = observed(fake)
    with pytest.raises(RateLimitError):
        adapter.chat(MODEL, ask())
    adapter.chat(MODEL, ask())
    row = adapter.tracker.report().get("fake", MODEL)
    assert row is not None
    assert (row.calls, row.errors, row.unpriced_calls) == (2, 1, 0)
    assert row.cost_usd == pytest.approx(cost(3, 1))


def test_budget_refuses_the_call_after_the_spend_reaches_it() -> None:
    fake = FakeProvider()
    adapter = observed(fake)
    one_call = cost(3, 3)
    with track_usage(budget_usd=2.5 * one_call) as scope:
        for _ in range(3):  # 0, 1 and 2 calls spent are under 2.5 calls: allowed
            adapter.chat(MODEL, ask())
        with pytest.raises(BudgetExceededError) as refused:
            adapter.chat(MODEL, ask())
    assert len(fake.calls) == 3  # the refused call was never sent
    error = refused.value
    assert isinstance(error, LLMError) and not error.retryable
    assert (error.provider, error.model) == ("fake", MODEL)
    assert error.budget_usd == pytest.approx(2.5 * one_call)
    assert error.spent_usd == pytest.approx(3 * one_call)
    assert "budget" in str(error)
    assert scope.remaining_usd == 0.0
    assert scope.calls == 3  # a refused call is not a call


def test_budget_applies_to_streams_and_async_calls_too() -> None:
    adapter = observed()
    with track_usage(budget_usd=0.0):
        with pytest.raises(BudgetExceededError):
            adapter.stream(MODEL, ask())
        with pytest.raises(BudgetExceededError):
            asyncio.run(adapter.achat(MODEL, ask()))
    assert adapter.inner.calls == []


def test_a_tracker_budget_covers_every_call_until_reset() -> None:
    tracker = UsageTracker(budget_usd=cost(3, 3))
    adapter = observed(tracker=tracker)
    adapter.chat(MODEL, ask())
    with pytest.raises(BudgetExceededError):
        adapter.chat(MODEL, ask())
    tracker.reset()
    adapter.chat(MODEL, ask())
    assert tracker.report().total.calls == 1


def test_an_unpriced_model_under_a_budget_is_refused_unless_allowed() -> None:
    adapter = observed()
    with track_usage(budget_usd=1.0), pytest.raises(ConfigurationError, match="no price"):
        adapter.chat("unpriced-model", ask())
    with track_usage(budget_usd=1.0, allow_unpriced=True) as scope:
        adapter.chat("unpriced-model", ask())
    assert scope.calls == 1
    assert scope.report().total.unpriced_calls == 1
    adapter.chat("unpriced-model", ask())  # no budget: no check


def test_a_negative_budget_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError), track_usage(budget_usd=-1):
        pass


def test_report_views_and_reset() -> None:
    tracker = UsageTracker()
    tracker.record(UsageRecord("openai", "gpt-4o-mini", "chat", 0.5, Usage(prompt_tokens=10)))
    tracker.record(UsageRecord("openai", "gpt-4o", "chat", 1.5, error="RateLimitError"))
    tracker.record(UsageRecord("gemini", "g", "embeddings", 0.1, Usage(prompt_tokens=4), 0.01))
    report = usage_report(tracker)
    assert [(r.provider, r.model) for r in report.rows] == [
        ("gemini", "g"),
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
    ]
    openai = report.for_provider("openai")
    assert (openai.calls, openai.errors, openai.prompt_tokens, openai.unpriced_calls) == (
        2,
        1,
        10,
        1,
    )
    assert openai.latency_s_max == 1.5
    data = report.to_dict()
    assert data["total"]["calls"] == 3 and len(data["rows"]) == 3
    reset_usage(tracker)
    assert tracker.report() == UsageReport()


def test_usage_table_shows_rows_total_and_marks_unknown_costs() -> None:
    report = UsageReport(
        (
            ModelStats("anthropic", "claude-haiku-4-5", calls=2, errors=1, prompt_tokens=1200,
                       completion_tokens=300, cost_usd=0.0027, latency_s_total=1.6),
            ModelStats("azure", "prod-chat", calls=1, prompt_tokens=50, completion_tokens=5,
                       unpriced_calls=1, latency_s_total=0.3),
        )
    )  # fmt: skip
    table = usage_table(report)
    lines = table.splitlines()
    assert lines[0].split() == [
        "provider", "model", "calls", "errors", "input", "output", "cached", "reasoning",
        "cost", "USD", "avg", "latency",
    ]  # fmt: skip
    assert lines[1].split() == [
        "anthropic", "claude-haiku-4-5", "2", "1", "1,200", "300", "0", "0", "0.002700", "0.80s",
    ]  # fmt: skip
    assert "n/a" in lines[2]
    assert lines[3].startswith("TOTAL") and "0.002700*" in lines[3]
    assert lines[4].startswith("* 1 call(s)")


def test_usage_table_adds_a_task_column_when_calls_are_labelled() -> None:
    report = UsageReport((ModelStats("fake", "m", "summarize", calls=1),))
    assert usage_table(report).splitlines()[0].split()[:3] == ["provider", "model", "task"]
    assert "summarize" in usage_table(report)
    assert usage_table(UsageReport()).splitlines()[-1].split()[0] == "TOTAL"


def test_client_over_an_observed_adapter_keeps_working() -> None:
    adapter = observed(FakeProvider(['{"a": 1}']))
    client = ChatClient(adapter, MODEL)
    assert client.provider == "fake"
    assert client.capabilities == FakeProvider.capabilities
    reply = client.chat(
        [{"role": "user", "content": "json"}], response_format={"type": "json_object"}
    )
    assert reply.parsed == {"a": 1}
    assert adapter.calls[0].kind == "chat"  # the inner fake's attributes are reachable
    assert adapter.tracker.report().total.calls == 1
