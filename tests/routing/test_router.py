"""Routing in the container: each workflow reaches its routed provider, unrouted tasks use
LLM_SERVICE, one client per distinct target list, overrides, usage per task, bad routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from dependency_injector import providers
from routing_helpers import Fakes, arun_workflows, check_results, persona_answer, run_workflows

from persona_llm import usage_report
from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.containers import container
from persona_llm.errors import ConfigurationError, RateLimitError
from persona_llm.facades import (
    get_async_chat_client,
    get_async_embedding_client,
    get_chat_client,
    get_embedding_client,
    reset_clients,
)
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability import FallbackAdapter, PoolAdapter
from persona_llm.routing.router import Router
from persona_llm.routing.routes import Route, RouteMember, RouteTable
from persona_llm.settings import ServiceTarget, load_settings
from persona_llm.testing import FakeChatClient, override_llm
from persona_llm.types import Capabilities
from persona_llm.usage.tracker import track_usage
from persona_llm.workflows import aio
from persona_llm.workflows.graph import get_nodes

Routed = Callable[..., Fakes]

ROUTES = (
    "extraction=anthropic/claude-haiku-4-5;"
    "relationships=gemini/gemini-pro-x;"
    "answer=azure/gpt4o-answers;"
    "insights=anthropic/claude-haiku-4-5;"
    "embeddings=gemini/embed-x"
)
SERVED = {
    "extraction": ("anthropic", "claude-haiku-4-5"),
    "relationships": ("gemini", "gemini-pro-x"),
    "answer": ("azure", "gpt4o-answers"),
    "communities": ("openai", "gpt-4o-mini"),  # unrouted: LLM_SERVICE
    "insights": ("anthropic", "claude-haiku-4-5"),
    "embeddings": ("gemini", "embed-x"),
}
HELLO = [{"role": "user", "content": "hello"}]


def test_each_workflow_reaches_its_routed_provider(routed: Routed) -> None:
    fakes = routed(llm_service="openai/gpt-4o-mini", llm_routes=ROUTES)
    check_results(run_workflows())
    assert fakes.served() == SERVED


def test_the_asyncio_workflows_follow_the_same_routes(routed: Routed) -> None:
    fakes = routed(llm_service="openai/gpt-4o-mini", llm_routes=ROUTES)
    check_results(asyncio.run(arun_workflows()))
    assert fakes.served() == SERVED


def test_without_routes_every_workflow_uses_llm_service(routed: Routed) -> None:
    fakes = routed(llm_service="anthropic/claude-x", embedding_service="gemini/embed-x")
    check_results(run_workflows())
    assert set(fakes.served().values()) == {("anthropic", "claude-x"), ("gemini", "embed-x")}


def test_unrouted_tasks_get_the_llm_service_client(routed: Routed) -> None:
    routed(llm_service="openai/gpt-4o-mini", llm_routes="answer=gemini/g")
    service = container.chat_client()
    assert get_chat_client() is service
    assert get_chat_client(task="extraction") is service
    assert get_chat_client(task="my-own-task") is service
    assert get_async_chat_client(task="extraction") is container.async_chat_client()


def test_one_client_per_distinct_target_list(routed: Routed) -> None:
    routed(
        llm_service="openai/gpt-4o-mini",
        llm_routes=(
            "extraction=anthropic/claude-x;relationships=anthropic/claude-x;"
            "communities=anthropic/;insights=anthropic/claude-x,openai/gpt-4o;"
            "answer=openai/gpt-4o-mini"
        ),
        anthropic_chat_model="claude-x",
    )
    extraction = get_chat_client(task="extraction")
    assert (extraction.provider, extraction.model) == ("anthropic", "claude-x")
    assert get_chat_client(task="relationships") is extraction
    assert get_chat_client(task="communities") is extraction  # the same target, once resolved
    assert get_chat_client(task="insights") is not extraction  # it has a fallback
    assert get_chat_client(task="answer") is container.chat_client()  # LLM_SERVICE itself
    asynchronous = get_async_chat_client(task="extraction")
    assert get_async_chat_client(task="relationships") is asynchronous
    assert asynchronous.adapter is extraction.adapter  # blocking and asyncio share a stack


def test_threads_racing_for_a_route_get_one_client(routed: Routed) -> None:
    routed(llm_routes="extraction=anthropic/claude-x;insights=anthropic/claude-x")
    tasks = ["extraction", "insights"] * 16
    with ThreadPoolExecutor(max_workers=32) as pool:
        clients = list(pool.map(lambda task: get_chat_client(task=task), tasks))
    assert len({id(client) for client in clients}) == 1


def test_a_route_naming_llm_service_without_its_fallbacks_is_a_route_of_its_own(
    routed: Routed,
) -> None:
    routed(
        llm_service="openai/gpt-4o-mini",
        llm_fallbacks="anthropic/claude-x",
        llm_routes="extraction=openai/gpt-4o-mini;answer=openai/gpt-4o-mini,anthropic/claude-x",
    )
    assert get_chat_client(task="extraction") is not container.chat_client()
    assert get_chat_client(task="answer") is container.chat_client()


def test_a_route_fails_over_to_its_own_fallbacks(routed: Routed) -> None:
    fakes = routed(
        llm_service="openai/gpt-4o-mini",
        llm_fallbacks="gemini/never",
        llm_routes="answer=anthropic/claude-x,azure/dep-b",
        llm_max_retries=1,
    )
    failing = FakeProvider([RateLimitError("slow down", provider="anthropic")] * 2)
    failing.name = "anthropic"
    container.anthropic.adapter.override(providers.Object(failing))
    client = get_chat_client(task="answer")
    assert isinstance(client.adapter.inner, FallbackAdapter)
    reply = client.chat(HELLO)
    assert (reply.provider, reply.model, reply.content) == ("azure", "dep-b", "hello")
    assert len(failing.calls) == 2  # one retry, then the route's fallback
    assert fakes["gemini"].calls == []  # LLM_FALLBACKS belong to LLM_SERVICE


def test_a_route_can_balance_a_weighted_pool(routed: Routed) -> None:
    fakes = routed(llm_routes="answer=openai/a*2+anthropic/b", llm_pool_strategy="round_robin")
    client = get_chat_client(task="answer")
    pool = client.adapter.inner
    assert isinstance(pool, PoolAdapter)
    assert [(t.model, t.weight) for t in pool.targets] == [("a", 2), ("b", 1)]
    for _ in range(3):
        client.chat(HELLO)
    assert len(fakes["openai"].calls) == 2 and len(fakes["anthropic"].calls) == 1


def test_calls_are_counted_per_task(routed: Routed) -> None:
    routed(llm_service="openai/gpt-4o-mini", llm_routes=ROUTES)
    with track_usage() as scope:
        run_workflows()
    report = usage_report()
    for task, (provider, model) in SERVED.items():
        row = report.get(provider, model, task)
        assert row is not None and row.calls == 1 and row.errors == 0, task
        assert row.total_tokens > 0 or task == "embeddings"
    assert report.total.calls == scope.calls == 6
    assert report.for_provider("anthropic").calls == 2  # extraction and insights


async def test_concurrent_asyncio_workflows_are_labelled_with_their_own_tasks(
    routed: Routed,
) -> None:
    routed(llm_service="openai/gpt-4o-mini", llm_routes=ROUTES)
    await asyncio.gather(
        *[aio.graph.get_nodes("I moved to Lisbon.", "") for _ in range(5)],
        *[aio.graph.generate_response_with_context("Where?", "Lisbon") for _ in range(5)],
    )
    rows = {(row.task, row.provider): row.calls for row in usage_report().rows}
    assert rows == {("extraction", "anthropic"): 5, ("answer", "azure"): 5}


def test_a_client_passed_in_is_still_labelled_with_the_task(routed: Routed) -> None:
    routed(llm_service="openai/gpt-4o-mini", llm_routes=ROUTES)
    get_nodes("I moved to Lisbon.", "", client=get_chat_client(task="insights"))
    (row,) = usage_report().rows
    assert (row.provider, row.task) == ("anthropic", "extraction")


def test_the_embeddings_route_sets_the_embedding_client(routed: Routed) -> None:
    routed(llm_service="anthropic/claude-x", llm_routes="embeddings=gemini/embed-x")
    client = get_embedding_client()
    assert (client.provider, client.model) == ("gemini", "embed-x")
    assert get_async_embedding_client().model == "embed-x"


def test_embedding_service_wins_over_the_embeddings_route_with_a_warning(
    routed: Routed, caplog: pytest.LogCaptureFixture
) -> None:
    routed(embedding_service="openai/e-1", llm_routes="embeddings=gemini/embed-x")
    with caplog.at_level(logging.WARNING, logger="persona_llm.routing.router"):
        client = get_embedding_client()
    assert (client.provider, client.model) == ("openai", "e-1")
    assert "EMBEDDING_SERVICE=openai/e-1 wins over the LLM_ROUTES route" in caplog.text


def test_embeddings_is_not_a_chat_task(routed: Routed) -> None:
    routed()
    with pytest.raises(ConfigurationError, match="use get_embedding_client"):
        get_chat_client(task="embeddings")


def test_an_invalid_task_name_is_refused(routed: Routed) -> None:
    routed()
    with pytest.raises(ConfigurationError, match="task name 'Extraction' is not valid"):
        get_chat_client(task="Extraction")
    with pytest.raises(ConfigurationError, match="task name"):
        get_async_chat_client(task="")


# -- configuration time --------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_use",
    [get_chat_client, get_async_chat_client, get_embedding_client, get_async_embedding_client],
)
def test_a_bad_route_fails_at_the_first_use_of_any_client(routed: Routed, first_use: Any) -> None:
    routed(llm_service="openai/gpt-4o-mini", llm_routes="answer=gemini/;embeddings=anthropic/")
    with pytest.raises(ConfigurationError, match=r"LLM_ROUTES\[embeddings\].*no embeddings API"):
        first_use()


@pytest.mark.parametrize("get_client", [get_chat_client, get_async_chat_client])
def test_routes_are_checked_again_after_a_reset(routed: Routed, get_client: Any) -> None:
    # Once the router is built, an unrouted get_*() skips it; a reset must undo that.
    routed(llm_service="openai/gpt-4o-mini", llm_routes="answer=gemini/g")
    first = get_client()
    assert get_client() is first and get_client(task="other") is first
    routed(llm_service="openai/gpt-4o-mini", llm_routes="answer=gemini/;embeddings=anthropic/")
    reset_clients()
    with pytest.raises(ConfigurationError, match=r"LLM_ROUTES\[embeddings\].*no embeddings API"):
        get_client()


def test_an_overridden_router_answers_unrouted_calls_too(routed: Routed) -> None:
    routed(llm_service="openai/gpt-4o-mini")
    get_chat_client()  # the real router is built
    mine = FakeChatClient()

    class OneClientRouter:
        def chat_client(self, task: str | None = None) -> ChatClient:
            return mine

    with container.router.override(providers.Object(OneClientRouter())):
        assert get_chat_client() is mine
    assert get_chat_client() is container.chat_client()


def test_an_embeddings_route_without_a_model_fails_at_configuration_time(
    routed: Routed,
) -> None:
    routed(llm_routes="embeddings=azure/")
    with pytest.raises(ConfigurationError, match="AZURE_EMBEDDING_DEPLOYMENT"):
        get_chat_client()


def test_the_router_checks_json_mode_when_built(routed: Routed) -> None:
    routed(llm_routes="extraction=openai/a;answer=gemini/")

    def no_json_on_openai(provider: str) -> Capabilities:
        return Capabilities(json_mode=provider != "openai")

    with pytest.raises(ConfigurationError, match=r"route extraction=openai/a: the extraction"):
        Router(
            container.settings(),
            adapters={},
            policy=container.retry_policy(),
            observe=lambda adapter: adapter,
            default=container.chat_client,
            default_async=container.async_chat_client,
            client=ChatClient,
            async_client=AsyncChatClient,
            capabilities_of=no_json_on_openai,
        )


def test_the_real_adapters_all_have_json_mode(routed: Routed) -> None:
    routed(
        llm_routes=";".join(
            f"{t}=openai/x,azure/y,anthropic/z,gemini/w,ollama/v,fake/u"
            for t in ("extraction", "relationships", "communities", "insights")
        )
    )
    assert get_chat_client(task="insights").capabilities.json_mode


# -- overrides -------------------------------------------------------------------------------


def test_an_override_of_chat_client_answers_every_task(routed: Routed) -> None:
    fakes = routed(llm_routes=ROUTES)
    fake = FakeChatClient(model="override")
    with container.chat_client.override(providers.Object(fake)):
        assert get_chat_client(task="extraction") is fake
        assert get_chat_client() is fake
    assert get_chat_client(task="extraction").provider == "anthropic"
    assert all(not f.calls for f in fakes.by_provider.values())


def test_override_llm_runs_every_workflow_on_its_fake_despite_routes(routed: Routed) -> None:
    fakes = routed(llm_routes=ROUTES.replace("embeddings=gemini/embed-x", "embeddings=openai/"))
    with override_llm(FakeProvider(persona_answer)) as fake:
        check_results(run_workflows())
        check_results(asyncio.run(arun_workflows()))
    assert len(fake.calls) == 12
    assert all(not f.calls for f in fakes.by_provider.values())


def test_overriding_one_provider_adapter_reaches_its_routes(routed: Routed) -> None:
    routed(llm_routes="extraction=anthropic/claude-x;answer=anthropic/claude-x")
    fake = FakeProvider(["from the override"])
    fake.name = "anthropic"
    container.anthropic.adapter.override(providers.Object(fake))
    reply = get_chat_client(task="answer").chat(HELLO)
    assert reply.content == "from the override" and fake.calls[0].model == "claude-x"


def test_routing_to_the_fake_provider_needs_no_override() -> None:
    container.settings.override(
        providers.Object(
            load_settings(llm_service="fake/main", llm_routes="answer=fake/strong;extraction=fake/")
        )
    )
    assert get_chat_client(task="answer").chat(HELLO).model == "strong"
    assert get_chat_client(task="extraction").model == "echo"
    assert get_chat_client(task="other").chat(HELLO).model == "main"


def test_reset_clients_drops_and_closes_the_routed_clients(routed: Routed) -> None:
    routed(llm_routes="answer=ollama/llama3.2")
    client = get_chat_client(task="answer")
    sdk = client.adapter.inner.adapter.client  # Observed → Retrying → its own adapter and SDK
    assert str(sdk.base_url) == "http://localhost:11434/v1/"
    reset_clients()
    assert sdk.is_closed()
    assert get_chat_client(task="answer") is not client


def test_a_router_built_by_hand_routes_to_its_adapters() -> None:
    settings = load_settings(llm_routes="answer=fake/strong", llm_max_retries=0)
    fake = FakeProvider(["routed"])
    default = ChatClient(FakeProvider(["default"]), "main")
    router = Router(
        settings,
        adapters={"fake": lambda: fake},
        policy=container.retry_policy(),
        observe=lambda adapter: adapter,
        default=lambda: default,
        default_async=container.async_chat_client,
        client=ChatClient,
        async_client=AsyncChatClient,
    )
    assert router.table == RouteTable(
        {"answer": Route("answer", ((RouteMember(ServiceTarget("fake", "strong")),),))}
    )
    assert router.chat_client("answer").chat(HELLO).content == "routed"
    assert router.chat_client("other") is default
    assert router.route("other") is None
    router.close()


def test_a_routes_reasoning_level_is_its_clients_default(routed: Routed) -> None:
    fakes = routed(
        llm_service="openai/gpt-4o-mini",
        llm_reasoning="low",
        llm_routes="answer=gemini/g?reasoning=high;insights=anthropic/claude-x",
    )
    assert get_chat_client().reasoning == "low"  # LLM_REASONING
    assert get_chat_client(task="answer").reasoning == "high"
    assert get_async_chat_client(task="answer").reasoning == "high"
    assert get_chat_client(task="insights").reasoning == "low"
    get_chat_client(task="answer").chat([{"role": "user", "content": "hi"}])
    assert fakes["gemini"].last_request.reasoning == "high"
    get_chat_client(task="answer").chat([{"role": "user", "content": "hi"}], reasoning="none")
    assert fakes["gemini"].last_request.reasoning == "none"
