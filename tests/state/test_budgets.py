"""Keyed budgets: spend counted in the store, shared by workers, per period."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm import usage_report
from persona_llm.containers import Container
from persona_llm.errors import ConfigurationError
from persona_llm.providers.fake import FakeProvider
from persona_llm.state.budgets import KeyedUsage
from persona_llm.state.guard import StoreGuard
from persona_llm.state.memory import MemoryStore
from persona_llm.usage.table import UsageRecord
from persona_llm.usage.tracker import BudgetExceededError, UsageTracker, track_usage

Build = Callable[..., Container]
# $0.25 a token: "hi" echoed costs 1 input + 1 output token = $0.50
PRICES = '{"fake": {"priced": {"input": 250000, "output": 250000}}}'


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(params=["memory", "redis"])
def priced(request: pytest.FixtureRequest, container_with: Build, prefix: str) -> Build:
    def build(**settings: Any) -> Container:
        values: dict[str, Any] = {"llm_service": "fake/priced", "llm_prices": PRICES}
        if request.param == "redis":
            server = request.getfixturevalue("redis_server")
            values |= {"llm_state": server.url, "llm_state_prefix": prefix}
        return container_with(**(values | settings))

    return build


def test_a_keyed_budget_refuses_calls_once_the_key_has_spent_it(priced: Build) -> None:
    container = priced()
    client = container.chat_client()
    with track_usage(budget_usd=1.0, key="user:42", period="day"):
        client.chat(user("hi"))
        client.chat(user("hi"))
        with pytest.raises(BudgetExceededError, match="'user:42' this day") as caught:
            client.chat(user("hi"))
    assert caught.value.spent_usd == pytest.approx(1.0)
    assert len(container.fake.adapter().calls) == 2


def test_the_spend_outlives_the_block_and_the_container(priced: Build, prefix: str) -> None:
    container = priced()
    with track_usage(budget_usd=5.0, key="user:7", period="day"):
        container.chat_client().chat(user("hi"))
    tracker = container.usage_tracker()
    report = usage_report(tracker, key="user:7", period="day")
    row = report.get("fake", "priced")
    assert row is not None and row.calls == 1 and row.cost_usd == pytest.approx(0.5)
    assert row.prompt_tokens == 1 and row.completion_tokens == 1
    assert usage_report(tracker, key="user:7", period="hour").rows == ()
    assert usage_report(tracker, key="user:8", period="day").rows == ()


def test_keys_are_counted_apart_and_without_a_key_nothing_changes(priced: Build) -> None:
    container = priced()
    client = container.chat_client()
    with track_usage(budget_usd=0.5, key="a"):
        client.chat(user("hi"))
    with track_usage(budget_usd=0.5, key="b"):
        client.chat(user("hi"))  # b has its own budget
    with track_usage(budget_usd=0.5) as scope:  # in-process, as before
        client.chat(user("hi"))
        with pytest.raises(BudgetExceededError):
            client.chat(user("hi"))
    assert scope.cost_usd == pytest.approx(0.5)


def test_two_containers_share_a_redis_budget(
    container_with: Build, redis_server: Any, prefix: str
) -> None:
    settings = {
        "llm_service": "fake/priced",
        "llm_prices": PRICES,
        "llm_state": redis_server.url,
        "llm_state_prefix": prefix,
    }
    first = container_with(**settings)
    second = Container()
    second.settings.override(first.settings)
    try:
        with track_usage(budget_usd=1.0, key="tenant:1", period="month"):
            first.chat_client().chat(user("hi"))
            second.chat_client().chat(user("hi"))
            with pytest.raises(BudgetExceededError):
                first.chat_client().chat(user("hi"))
    finally:
        second.reset_singletons()


def test_concurrent_calls_overshoot_by_at_most_the_calls_in_flight(priced: Build) -> None:
    """8 threads, each call $0.50, budget $2: the documented bound is budget + 8 x $0.50."""
    container = priced()
    container.fake.adapter.override(FakeProvider(delay=0.05))
    client = container.chat_client()
    refused = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal refused
        with track_usage(budget_usd=2.0, key="shared"):
            for _ in range(5):
                try:
                    client.chat(user("hi"))
                except BudgetExceededError:
                    with lock:
                        refused += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = usage_report(container.usage_tracker(), key="shared").total.cost_usd
    assert 2.0 <= spent <= 2.0 + 8 * 0.5
    assert refused == 40 - round(spent / 0.5)


class RecordingTracker(UsageTracker):
    """A tracker that keeps every record, to look at their labels."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[UsageRecord] = []

    def record(self, record: UsageRecord) -> None:
        self.records.append(record)
        super().record(record)


def test_user_and_tenant_labels_reach_the_usage_records(priced: Build) -> None:
    container = priced()
    tracker = RecordingTracker()
    container.usage_tracker.override(providers.Object(tracker))
    client = container.chat_client()
    with track_usage(tenant="acme"), track_usage(user="u1"):
        client.chat(user("hi"))
    client.chat(user("hi"))
    assert [(r.user, r.tenant) for r in tracker.records] == [("u1", "acme"), (None, None)]


def test_periods_roll_over_in_utc() -> None:
    now = [datetime(2026, 12, 31, 23, 59, 30, tzinfo=timezone.utc)]
    usage = KeyedUsage(MemoryStore(), StoreGuard("memory"), now=lambda: now[0])
    record = UsageRecord("p", "m", "chat", 0.1, cost_usd=1.0)
    usage.add("k", "month", record)
    usage.add("k", "minute", record)
    assert usage.spent("k", "month", "p", "m") == 1.0
    now[0] = datetime(2027, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert usage.spent("k", "month", "p", "m") == 0.0
    assert usage.spent("k", "minute", "p", "m") == 0.0


def test_bad_periods_are_refused() -> None:
    with (
        pytest.raises(ConfigurationError, match="period must be one of"),
        track_usage(key="k", period="week"),
    ):
        pass
    with pytest.raises(ConfigurationError, match="needs key"), track_usage(period="day"):
        pass
