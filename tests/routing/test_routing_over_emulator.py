"""Routes through the real SDKs: each workflow's request reaches its routed provider's HTTP API.

The container is pointed at the provider emulator (`use_emulator`), which answers every chat
request as the stand-in model would, in the wire shape of the provider that was called.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from routing_helpers import arun_workflows, check_results, persona_text, run_workflows

from persona_llm import usage_report
from persona_llm.facades import get_async_chat_client, get_chat_client
from persona_llm.testing import use_emulator, wire
from persona_llm.testing.emulator import PROVIDERS, Fault, ProviderEmulator, RecordedRequest, Reply
from persona_llm.types import ChatMessage
from persona_llm.workflows.prompts import (
    COMMUNITIES_PROMPT,
    INSIGHTS_PROMPT,
    NODES_PROMPT,
    RAG_ANSWER_PROMPT,
    RELATIONSHIPS_PROMPT,
)

ROUTES = (
    "extraction=anthropic/claude-haiku-4-5;"
    "relationships=gemini/gemini-3.8-pro;"
    "answer=azure/answers-prod;"
    "insights=anthropic/claude-haiku-4-5;"
    "embeddings=gemini/gemini-embedding-001"
)
TASKS = {
    NODES_PROMPT: "extraction",
    RELATIONSHIPS_PROMPT: "relationships",
    RAG_ANSWER_PROMPT: "answer",
    COMMUNITIES_PROMPT: "communities",
    INSIGHTS_PROMPT: "insights",
}
SERVED = [
    ("extraction", "anthropic", "claude-haiku-4-5"),
    ("relationships", "gemini", "gemini-3.8-pro"),
    ("answer", "azure", "answers-prod"),
    ("communities", "openai", "gpt-4o-mini"),  # unrouted: LLM_SERVICE
    ("insights", "anthropic", "claude-haiku-4-5"),
    ("embeddings", "gemini", "gemini-embedding-001"),
]


def conversation(request: RecordedRequest) -> list[ChatMessage]:
    """The messages of a chat request body, system prompt first, whatever the provider."""
    body = request.json
    if request.provider == "gemini":
        system = [("system", body["systemInstruction"])] if "systemInstruction" in body else []
        turns = system + [
            ("user" if c["role"] == "user" else "assistant", c) for c in body["contents"]
        ]
        return [
            ChatMessage(role=role, content="".join(p["text"] for p in content["parts"]))
            for role, content in turns
        ]
    system = [{"role": "system", "content": body["system"]}] if "system" in body else []
    return [ChatMessage.model_validate(message) for message in system + body["messages"]]


def model_reply(request: RecordedRequest) -> Reply | None:
    """The stand-in model's answer, in the shape of the provider that was asked."""
    if request.kind == "embeddings":
        return None  # the emulator's default: a deterministic vector per text
    text = persona_text(conversation(request))
    if request.provider == "anthropic":
        forced = request.json.get("tool_choice")
        if forced:  # JSON mode is a forced tool: the answer is that tool's input
            call = {"type": "tool_use", "id": "toolu_01", "name": forced["name"]}
            return Reply(
                wire.anthropic_message([call | {"input": json.loads(text)}], stop_reason="tool_use")
            )
        return Reply(wire.anthropic_message(text))
    if request.provider == "gemini":
        return Reply(wire.gemini_response(text))
    return Reply(wire.openai_chat(text, azure=request.provider == "azure"))


def served(emu: ProviderEmulator) -> list[tuple[str, str, str | None]]:
    """(task, provider, model) of each request the emulator received, in order."""
    rows = []
    for request in emu.requests:
        if request.kind == "embeddings":
            task = "embeddings"
        else:
            task = TASKS[conversation(request)[0].text]
        rows.append((task, request.provider, request.model))
    return rows


@pytest.fixture
def emulated(emu: ProviderEmulator) -> Iterator[ProviderEmulator]:
    """The default container on the emulator, routed by ROUTES; LLM_SERVICE is OpenAI."""
    for provider in PROVIDERS:
        emu.enqueue(provider, *[model_reply] * 20)
    with use_emulator(emu, llm_service="openai/gpt-4o-mini", llm_routes=ROUTES):
        yield emu


def test_each_workflow_reaches_its_routed_provider(emulated: ProviderEmulator) -> None:
    check_results(run_workflows())
    assert served(emulated) == SERVED
    # Anthropic's JSON mode (a forced tool) was used for the extraction route.
    assert emulated.requests_for("anthropic")[0].json["tool_choice"]["type"] == "tool"
    assert emulated.requests_for("gemini")[0].json["generationConfig"]["responseMimeType"] == (
        "application/json"
    )


def test_usage_is_reported_per_task_and_provider(emulated: ProviderEmulator) -> None:
    run_workflows()
    report = usage_report()
    for task, provider, model in SERVED:
        row = report.get(provider, model, task)
        assert row is not None and (row.calls, row.errors) == (1, 0), task
        if task != "embeddings":
            assert row.prompt_tokens > 0 and row.completion_tokens > 0, task
    assert report.for_provider("anthropic").calls == 2


async def test_the_asyncio_workflows_reach_the_same_providers(
    emulated: ProviderEmulator,
) -> None:
    try:
        check_results(await arun_workflows())
    finally:
        for task in ("extraction", "relationships", "answer", "communities"):
            await get_async_chat_client(task=task).adapter.aclose()
    assert served(emulated) == SERVED


def test_a_route_fails_over_to_its_fallback_over_http(emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", Fault(529, "overloaded"))
    emu.enqueue("gemini", model_reply)
    routes = "answer=anthropic/claude-haiku-4-5,gemini/gemini-3.8-flash"
    with use_emulator(emu, llm_service="openai/gpt-4o-mini", llm_routes=routes):
        reply = get_chat_client(task="answer").chat([{"role": "user", "content": "Hi there"}])
    assert (reply.provider, reply.content) == ("gemini", "Hi there")
    assert [(r.provider, r.model) for r in emu.requests] == [
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-3.8-flash"),
    ]


def test_one_sdk_client_serves_the_routes_of_one_provider(emulated: ProviderEmulator) -> None:
    extraction, insights = get_chat_client(task="extraction"), get_chat_client(task="insights")
    assert extraction is insights
    answers: Any = get_chat_client(task="answer")
    assert answers.provider == "azure" and answers.model == "answers-prod"
