"""LLM_ROUTES: the syntax, its defaults, and the errors that name the route and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from persona_llm.errors import ConfigurationError
from persona_llm.routing.routes import (
    JSON_TASKS,
    WORKFLOW_TASKS,
    Route,
    RouteMember,
    RouteTable,
    check_capabilities,
    check_task_name,
)
from persona_llm.settings import ServiceTarget, load_settings
from persona_llm.types import Capabilities


def table(routes: str, **settings: Any) -> RouteTable:
    return RouteTable.from_settings(load_settings(llm_routes=routes, **settings))


def members(route: Route) -> list[list[str]]:
    return [[str(member) for member in tier] for tier in route.tiers]


def test_no_routes_by_default() -> None:
    assert RouteTable.from_settings(load_settings()) == RouteTable({}, None)


def test_one_target_per_task_with_default_models_filled_in() -> None:
    routes = table(
        " extraction = openai/gpt-4o-mini ;relationships=anthropic/claude-sonnet-4-6;"
        "answer=gemini/;;"
    ).routes
    assert list(routes) == ["extraction", "relationships", "answer"]
    assert routes["extraction"] == Route(
        "extraction", ((RouteMember(ServiceTarget("openai", "gpt-4o-mini")),),)
    )
    assert routes["relationships"].model == "claude-sonnet-4-6"
    assert routes["answer"].targets == (ServiceTarget("gemini", load_settings().gemini_chat_model),)


def test_new_lines_separate_routes_too_and_task_names_are_lowercased() -> None:
    routes = table("Extraction=openai/gpt-4o-mini\nsummary-v2=anthropic/claude-haiku-4-5\n").routes
    assert list(routes) == ["extraction", "summary-v2"]


def test_routes_are_read_from_a_dotenv_file_on_one_line_or_several() -> None:
    # The test runs in a temporary directory of its own (tests/conftest.py).
    Path(".env").write_text(
        "LLM_ROUTES=extraction=openai/gpt-4o-mini;answer=gemini/g,openai/gpt-4o # cheap first\n",
        encoding="utf-8",
    )
    assert [str(r) for r in RouteTable.from_settings(load_settings()).routes.values()] == [
        "extraction=openai/gpt-4o-mini",
        "answer=gemini/g,openai/gpt-4o",
    ]
    Path(".env").write_text(
        'LLM_ROUTES="\n  extraction = openai/gpt-4o-mini\n  embeddings = gemini/\n"\n',
        encoding="utf-8",
    )
    routes = RouteTable.from_settings(load_settings())
    assert list(routes.routes) == ["extraction"]
    assert routes.embedding == ServiceTarget("gemini", None)


def test_commas_are_fallbacks_and_plus_joins_a_weighted_pool() -> None:
    route = table("answer=openai/gpt-4o*2+azure@us/gpt4o-us, anthropic/claude-x ,gemini/g").routes
    assert members(route["answer"]) == [
        ["openai/gpt-4o*2", "azure@us/gpt4o-us"],
        ["anthropic/claude-x"],
        ["gemini/g"],
    ]
    assert route["answer"].model == "gpt-4o"
    assert str(route["answer"]) == (
        "answer=openai/gpt-4o*2+azure@us/gpt4o-us,anthropic/claude-x,gemini/g"
    )


def test_a_profile_target_reads_its_prefixed_default_model(env: Any) -> None:
    with env(US_AZURE_CHAT_DEPLOYMENT="gpt4o-us"):
        route = table("insights=azure@us/").routes["insights"]
    assert route.targets == (ServiceTarget("azure", "gpt4o-us", "us"),)


def test_the_embeddings_route_is_the_embedding_service() -> None:
    settings = load_settings(llm_service="anthropic/claude-x", llm_routes="embeddings=gemini/")
    assert RouteTable.from_settings(settings).embedding == ServiceTarget("gemini", None)
    assert RouteTable.from_settings(settings).routes == {}
    assert settings.embedding_target == ServiceTarget("gemini", settings.gemini_embedding_model)
    assert not settings.embedding_is_fallback


def test_embedding_service_wins_over_the_embeddings_route() -> None:
    settings = load_settings(embedding_service="openai/e-1", llm_routes="embeddings=gemini/")
    assert settings.embedding_target == ServiceTarget("openai", "e-1")


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ("extraction", r"entry 'extraction' is not of the form task=provider/model"),
        ("extraction=", r"is not of the form task=provider/model"),
        ("=openai/x", r"is not of the form task=provider/model"),
        ("Summary v2=openai/x", r"entry 'Summary v2=openai/x': task name 'summary v2'"),
        ("2nd=openai/x", r"task name '2nd' is not valid"),
        ("answer=openai/x;answer=gemini/y", r"routes the task 'answer' twice"),
        ("answer=gpt-4o", r"LLM_ROUTES\[answer\]='gpt-4o' is not of the form provider/model"),
        ("answer=bedrock/claude", r"LLM_ROUTES\[answer\]='bedrock/claude' names an unknown"),
        ("answer=azure/", r"LLM_ROUTES\[answer\]=azure/<deployment> or AZURE_CHAT_DEPLOYMENT"),
        ("answer=openai/a*2", r"LLM_ROUTES\[answer\]: 'openai/a\*2' has a weight, but weights"),
        ("answer=openai/a*0+openai/b", r"the weight after '\*' must be a whole number >= 1"),
        ("answer=openai/a,openai/a", r"LLM_ROUTES\[answer\]='openai/a,openai/a' names openai/a"),
        ("answer=, ,", r"LLM_ROUTES\[answer\] names no target"),
        ("answer=azure@e-u/dep", r"profile \(provider@name"),
        ("embeddings=anthropic/", r"LLM_ROUTES\[embeddings\]='anthropic/': anthropic has no "),
        ("embeddings=groq/x", r"groq has no embeddings API; route embeddings to one of"),
        ("embeddings=openai/a,gemini/", r"names one provider/model, without fallbacks"),
        ("embeddings=openai/a+gemini/", r"without fallbacks, pool or profile"),
        ("embeddings=azure@us/e", r"without fallbacks, pool or profile"),
        ("embeddings=openai/a;embeddings=gemini/", r"routes the task 'embeddings' twice"),
    ],
)
def test_malformed_routes_name_the_route(routes: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        table(routes)


def test_a_bad_route_spoils_the_embedding_target_too() -> None:
    with pytest.raises(ConfigurationError, match="task=provider/model"):
        load_settings(llm_routes="oops").embedding_target  # noqa: B018


@pytest.mark.parametrize("task", ["extraction", "summary-v2", "a_b", "x1"])
def test_task_names(task: str) -> None:
    assert check_task_name(task) == task


@pytest.mark.parametrize("task", ["", "Extraction", "1st", "a b", "a.b", "-x"])
def test_invalid_task_names(task: str) -> None:
    with pytest.raises(ConfigurationError, match="lowercase letters, digits"):
        check_task_name(task)


def test_the_workflow_tasks() -> None:
    assert WORKFLOW_TASKS == (
        "extraction",
        "relationships",
        "answer",
        "communities",
        "insights",
        "embeddings",
    )
    assert {"extraction", "relationships", "communities", "insights"} == JSON_TASKS


# -- capabilities --------------------------------------------------------------------------


def no_json_for(*providers: str) -> Any:
    """A capability lookup in which `providers` have no JSON mode."""

    def capabilities_of(provider: str) -> Capabilities:
        return Capabilities(chat=True, json_mode=provider not in providers)

    return capabilities_of


def test_a_json_task_routed_to_a_target_without_json_mode_is_refused() -> None:
    routes = table("answer=openai/a;relationships=openai/b,anthropic/claude-x")
    with pytest.raises(ConfigurationError) as caught:
        check_capabilities(routes, no_json_for("anthropic"))
    assert caught.value.message == (
        "LLM_ROUTES route relationships=openai/b,anthropic/claude-x: the relationships task "
        "needs JSON mode, which the anthropic provider does not have; route relationships to "
        "targets with JSON mode, or remove the route to use LLM_SERVICE"
    )
    assert (caught.value.provider, caught.value.model) == ("anthropic", "claude-x")


def test_tasks_that_need_no_json_mode_and_user_tasks_are_not_checked() -> None:
    routes = table("answer=openai/a;summary=openai/b;extraction=gemini/")
    check_capabilities(routes, no_json_for("openai"))
    with pytest.raises(ConfigurationError, match="the extraction task needs JSON mode"):
        check_capabilities(routes, no_json_for("gemini"))


def test_a_route_may_set_its_reasoning_level() -> None:
    from persona_llm.routing.routes import RouteTable
    from persona_llm.settings import Settings

    settings = Settings(llm_routes="answer=openai/o4-mini?reasoning=high;extraction=openai/")
    table = RouteTable.from_settings(settings)
    assert table.routes["answer"].reasoning == "high"
    assert table.routes["extraction"].reasoning is None
    assert str(table.routes["answer"]).endswith("?reasoning=high")
    bad = Settings(llm_routes="answer=openai/o4-mini?effort=high")
    with pytest.raises(ConfigurationError, match=r"\?reasoning=none\|low\|medium\|high"):
        RouteTable.from_settings(bad)
