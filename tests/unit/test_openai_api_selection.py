"""Which endpoint each request takes under OPENAI_API=chat|responses|auto (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from persona_llm.errors import ConfigurationError
from persona_llm.providers.openai.responses_select import (
    choose_api,
    is_responses_only,
    responses_only_patterns,
)
from persona_llm.types import ChatMessage, ChatRequest, Tool, ToolCall

TOOL = Tool(name="lookup")
HI = (ChatMessage(role="user", content="hi"),)
CARRIED = (
    ChatMessage(role="user", content="hi"),
    ChatMessage(
        role="assistant",
        content="",
        tool_calls=(
            ToolCall(
                id="c1",
                name="lookup",
                provider_data={"openai": {"reasoning": [{"type": "reasoning", "id": "rs"}]}},
            ),
        ),
    ),
    ChatMessage(role="tool", tool_call_id="c1", content="42"),
)


def req(*, tools: bool = False, messages: Any = HI, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages, tools=(TOOL,) if tools else (), **fields)


CASES = [
    # setting, model, request, compatible preset, expected
    ("auto", "gpt-4o-mini", req(), False, "chat"),
    ("auto", "gpt-4o-mini", req(tools=True), False, "chat"),
    ("auto", "o3", req(), False, "chat"),
    ("auto", "o3", req(tools=True), False, "responses"),
    ("auto", "o4-mini", req(tools=True), False, "responses"),
    ("auto", "gpt-5", req(tools=True), False, "responses"),
    ("auto", "gpt-5-chat-latest", req(tools=True), False, "chat"),
    # gpt-5.1+ reason only when asked
    ("auto", "gpt-5.1", req(tools=True), False, "chat"),
    ("auto", "gpt-5.1", req(tools=True, options={"reasoning_effort": "none"}), False, "chat"),
    ("auto", "gpt-5.1", req(tools=True, options={"reasoning_effort": "high"}), False, "responses"),
    (
        "auto",
        "gpt-5.2",
        req(tools=True, options={"reasoning": {"effort": "low"}}),
        False,
        "responses",
    ),
    # the reasoning= setting counts like reasoning_effort
    ("auto", "gpt-5.1", req(tools=True, reasoning="medium"), False, "responses"),
    ("auto", "gpt-5.1", req(tools=True, reasoning="none"), False, "chat"),
    ("auto", "gpt-5.1", req(reasoning="high"), False, "chat"),  # no tools
    # Responses-only models, whatever the request
    ("auto", "o3-pro", req(), False, "responses"),
    ("auto", "gpt-5-pro", req(), False, "responses"),
    ("auto", "gpt-5.2-pro", req(), False, "responses"),
    ("auto", "gpt-5-codex", req(), False, "responses"),
    ("auto", "gpt-5.1-codex-mini", req(), False, "responses"),
    ("auto", "o3-deep-research-2025-06-26", req(), False, "responses"),
    ("auto", "openai/o3-pro", req(), False, "responses"),
    # a conversation carrying reasoning items stays on Responses
    ("auto", "gpt-4o-mini", req(messages=CARRIED), False, "responses"),
    # stop sequences keep a request on Chat Completions (Responses has no stop)
    ("auto", "o3", req(tools=True, stop=("END",)), False, "chat"),
    # explicit settings win; the per-call option wins over the setting
    ("chat", "o3", req(tools=True), False, "chat"),
    ("chat", "o3-pro", req(), False, "chat"),
    ("responses", "gpt-4o-mini", req(), False, "responses"),
    ("chat", "gpt-4o-mini", req(options={"openai_api": "responses"}), False, "responses"),
    ("responses", "o3", req(tools=True, options={"openai_api": "chat"}), False, "chat"),
    ("chat", "o3", req(tools=True, options={"openai_api": "auto"}), False, "responses"),
    # OpenAI-compatible presets: always Chat Completions
    ("auto", "o3-pro", req(), True, "chat"),
    ("responses", "llama3", req(tools=True), True, "chat"),
]


@pytest.mark.parametrize(("setting", "model", "request_", "compatible", "expected"), CASES)
def test_endpoint_of_each_request(
    setting: str, model: str, request_: ChatRequest, compatible: bool, expected: str
) -> None:
    assert choose_api(setting, model, request_, compatible=compatible) == expected


def test_an_unknown_setting_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="chat, responses, auto"):
        choose_api("completions", "gpt-4o", req())
    with pytest.raises(ConfigurationError, match="openai_api"):
        choose_api("auto", "gpt-4o", req(options={"openai_api": "yes"}))


def test_the_responses_only_table_is_data_and_matches_no_chat_model() -> None:
    assert "o3-pro" in responses_only_patterns()
    for model in ("gpt-4o", "gpt-5", "gpt-5.1", "o3", "o4-mini", "gpt-5-mini", "gpt-4.1-nano"):
        assert not is_responses_only(model), model
